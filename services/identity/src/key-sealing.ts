// Private signing keys are stored encrypted ("sealed") with a key-encryption
// key (KEK) that lives outside the database: SIGNING_KEY_ENCRYPTION_KEY, 32
// random bytes in base64, from a Secret in a cluster. A database dump or
// backup alone signs nothing.
//
// Format: a compact JWE (jose) with alg "dir" and enc "A256GCM"; its
// protected header names the KEK (`kid`: a fingerprint, so a wrong KEK is a
// clear error, not a decryption failure) and the signing key it holds
// (`skid`), which GCM authenticates: a sealed key copied onto another row
// does not open. SIGNING_KEY_ENCRYPTION_KEY_PREVIOUS, while rotating the KEK,
// opens keys sealed with the old one; start-up re-seals them with the new.
import { createHash } from "node:crypto";
import { CompactEncrypt, compactDecrypt, decodeProtectedHeader, type JWK } from "jose";

export class KeySealingError extends Error {
  override name = "KeySealingError";
}

export class KeySealer {
  readonly #keys: { id: string; key: Uint8Array }[];

  /** `current` seals; `previous` (optional) only opens. Each is 32 bytes. */
  constructor(current: Uint8Array, previous?: Uint8Array) {
    this.#keys = [current, ...(previous ? [previous] : [])].map((key) => {
      if (key.length !== 32) throw new KeySealingError("a key-encryption key must be 32 bytes");
      return { id: fingerprint(key), key };
    });
  }

  /** The fingerprint of the KEK that seals. */
  get currentId(): string {
    return this.#keys[0].id;
  }

  async seal(kid: string, jwk: JWK): Promise<string> {
    const { id, key } = this.#keys[0];
    return new CompactEncrypt(new TextEncoder().encode(JSON.stringify(jwk)))
      .setProtectedHeader({ alg: "dir", enc: "A256GCM", kid: id, skid: kid })
      .encrypt(key);
  }

  /** The private JWK of signing key `kid`; throws KeySealingError when no configured KEK opens it. */
  async open(kid: string, sealed: string): Promise<JWK> {
    const header = decodeProtectedHeader(sealed);
    const entry = this.#keys.find((k) => k.id === header.kid);
    if (!entry) {
      throw new KeySealingError(
        `signing key ${kid} is sealed with key-encryption key ${String(header.kid)}; SIGNING_KEY_ENCRYPTION_KEY is ${this.currentId}` +
          " (set the old one as SIGNING_KEY_ENCRYPTION_KEY_PREVIOUS while rotating)",
      );
    }
    if (header.skid !== kid)
      throw new KeySealingError(`sealed key of ${String(header.skid)} found on signing key ${kid}`);
    try {
      const { plaintext } = await compactDecrypt(sealed, entry.key);
      return JSON.parse(new TextDecoder().decode(plaintext)) as JWK;
    } catch (err) {
      throw new KeySealingError(`cannot open signing key ${kid}: ${(err as Error).message}`);
    }
  }

  /** Whether `sealed` was sealed with an older KEK (and should be re-sealed). */
  isStale(sealed: string): boolean {
    return decodeProtectedHeader(sealed).kid !== this.currentId;
  }
}

function fingerprint(key: Uint8Array): string {
  return createHash("sha256").update(key).digest("hex").slice(0, 16);
}

/** A KEK from its base64 text (32 bytes: 43 characters and one `=`), or undefined. */
export function parseKek(raw: string): Uint8Array | undefined {
  const text = raw.trim();
  return /^[A-Za-z0-9+/]{43}=$/.test(text) ? new Uint8Array(Buffer.from(text, "base64")) : undefined;
}
