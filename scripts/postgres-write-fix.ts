// A build-time fix for postgres.js 3.4.9 (the latest release), applied to
// its connection.js as esbuild bundles the services (build-services.ts), so
// no third-party file is copied into this repository.
//
// The driver batches small writes behind a setImmediate and arms that timer
// only while `nextWriteTimer` is null; `nextWrite` running is the only place
// that resets it (and the buffered `chunk`). Both teardown paths, closed()
// and terminate(), cancel the timer without resetting either. A connection
// whose socket died with a write buffered is then poisoned: after it
// reconnects, its startup message is appended to the stale chunk and never
// sent, so every attempt ends in CONNECT_TIMEOUT (found by `npm run chaos`:
// after a Postgres immediate shutdown, payment's queries hung until they
// timed out, its StockReserved consumer stalled for minutes, and SIGTERM
// could not drain it). The same stale state is why nextWrite can find a null
// socket and throw `TypeError: Cannot read properties of null (reading
// 'write')` from a timer (porsager/postgres #1154, #1208; unmerged fixes in
// #1168, #1209). The fix: teardown resets both, and nextWrite without a
// socket fails the connection's queries (CONNECTION_CLOSED, retryable)
// instead of throwing.
import { readFile } from "node:fs/promises";
import type { Plugin } from "esbuild";

const CONNECTION_JS = /[\\/]node_modules[\\/]postgres[\\/](?:cjs[\\/])?src[\\/]connection\.js$/;

const TEARDOWN = /^(\s*)clearImmediate\(nextWriteTimer\)$/gm;
const NEXT_WRITE = "  function nextWrite(fn) {\n    const x = socket.write(chunk, fn)";
const GUARDED_NEXT_WRITE = [
  "  function nextWrite(fn) {",
  "    if (!socket) {",
  "      chunk = nextWriteTimer = null",
  "      error(Errors.connection('CONNECTION_CLOSED', options))",
  "      return false",
  "    }",
  "    const x = socket.write(chunk, fn)",
].join("\n");

/** connection.js with the fix; throws if its code is not what the fix was written for (an upgraded driver). */
export function fixPostgresWrites(source: string, file = "connection.js"): string {
  const teardowns = source.match(TEARDOWN)?.length ?? 0;
  const nextWrites = source.split(NEXT_WRITE).length - 1;
  if (teardowns !== 2 || nextWrites !== 1) {
    throw new Error(
      `${file} is not the postgres.js 3.4.9 this build fixes (found ${String(teardowns)} teardown clearImmediate and ${String(nextWrites)} nextWrite); check whether the upgrade fixed porsager/postgres #1154 and update or remove scripts/postgres-write-fix.ts`,
    );
  }
  return source
    .replace(TEARDOWN, "$1clearImmediate(nextWriteTimer)\n$1chunk = nextWriteTimer = null")
    .replace(NEXT_WRITE, GUARDED_NEXT_WRITE);
}

export const postgresWriteFix: Plugin = {
  name: "postgres-write-fix",
  setup(build) {
    build.onLoad({ filter: CONNECTION_JS }, async (args) => ({
      contents: fixPostgresWrites(await readFile(args.path, "utf8"), args.path),
      loader: "js",
    }));
  },
};
