// Password hashing with scrypt, a memory-hard KDF built into Node (no native
// dependency). The parameters travel with each hash, `scrypt$N$r$p$salt$hash`
// (salt and hash base64), so they can be raised later: old hashes still
// verify, and needsRehash() tells the caller to store a fresh one on the next
// successful sign-in.
import { randomBytes, scrypt, timingSafeEqual, type ScryptOptions } from "node:crypto";

interface ScryptParameters {
  N: number;
  r: number;
  p: number;
}

/** N = 2^15, r = 8: 32 MiB and tens of milliseconds per hash. */
export const CURRENT_PARAMETERS: ScryptParameters = { N: 2 ** 15, r: 8, p: 1 };
const SALT_BYTES = 16;
const KEY_BYTES = 32;
const PREFIX = "scrypt";

/** Runs on the libuv thread pool: never blocks the event loop. */
function derive(password: string, salt: Buffer, { N, r, p }: ScryptParameters, keyLength: number): Promise<Buffer> {
  // scrypt needs 128·N·r·p bytes; Node refuses above maxmem (32 MiB by default).
  const options: ScryptOptions = { N, r, p, maxmem: 2 * 128 * N * r * p };
  return new Promise((resolve, reject) => {
    scrypt(password.normalize("NFKC"), salt, keyLength, options, (err, key) => (err ? reject(err) : resolve(key)));
  });
}

export async function hashPassword(password: string): Promise<string> {
  const salt = randomBytes(SALT_BYTES);
  const key = await derive(password, salt, CURRENT_PARAMETERS, KEY_BYTES);
  const { N, r, p } = CURRENT_PARAMETERS;
  return [PREFIX, N, r, p, salt.toString("base64"), key.toString("base64")].join("$");
}

interface ParsedHash extends ScryptParameters {
  salt: Buffer;
  key: Buffer;
}

function parse(encoded: string): ParsedHash | undefined {
  const parts = encoded.split("$");
  if (parts.length !== 6 || parts[0] !== PREFIX) return undefined;
  const [N, r, p] = parts.slice(1, 4).map(Number);
  if (![N, r, p].every((n) => Number.isSafeInteger(n) && n > 0)) return undefined;
  const salt = Buffer.from(parts[4], "base64");
  const key = Buffer.from(parts[5], "base64");
  if (salt.length === 0 || key.length === 0) return undefined;
  return { N, r, p, salt, key };
}

/** Whether `password` matches `encoded`; compared in constant time. */
export async function verifyPassword(password: string, encoded: string): Promise<boolean> {
  const parsed = parse(encoded);
  if (!parsed) throw new Error("unrecognised password hash format");
  const key = await derive(password, parsed.salt, parsed, parsed.key.length);
  return timingSafeEqual(key, parsed.key);
}

/** Whether a hash was made with weaker parameters than the current ones. */
export function needsRehash(encoded: string): boolean {
  const parsed = parse(encoded);
  if (!parsed) return true;
  return (
    parsed.N < CURRENT_PARAMETERS.N ||
    parsed.r < CURRENT_PARAMETERS.r ||
    parsed.p < CURRENT_PARAMETERS.p ||
    parsed.key.length < KEY_BYTES
  );
}
