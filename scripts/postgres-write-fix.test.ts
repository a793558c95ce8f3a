// The build-time fix of postgres.js's write scheduler (postgres-write-fix.ts):
// a connection whose socket dies while a write is buffered must send its
// next startup message after reconnecting. The driver is bundled twice, with
// and without the fix, and driven through its `socket` option with a fake
// socket that closes just before the buffered write would go out.
import { mkdtempSync, readFileSync, rmSync } from "node:fs";
import os from "node:os";
import path from "node:path";
import { Duplex } from "node:stream";
import { pathToFileURL } from "node:url";
import * as esbuild from "esbuild";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { fixPostgresWrites, postgresWriteFix } from "./postgres-write-fix.ts";
import { REPO_ROOT } from "./start/services.ts";

type Postgres = (options: Record<string, unknown>) => {
  (strings: TemplateStringsArray): Promise<unknown>;
  end(options: { timeout: number }): Promise<void>;
};

class FakeSocket extends Duplex {
  readonly received: Buffer[] = [];
  readyState = "open";
  override _write(chunk: Buffer, _encoding: string, done: () => void): void {
    this.received.push(chunk);
    done();
  }
  override _read(): void {}
  setKeepAlive(): void {}
}

let dir: string;
const bundled = async (fixed: boolean): Promise<Postgres> => {
  const outfile = path.join(dir, fixed ? "fixed.mjs" : "as-published.mjs");
  await esbuild.build({
    stdin: { contents: 'export { default } from "postgres";', resolveDir: REPO_ROOT },
    bundle: true,
    platform: "node",
    format: "esm",
    outfile,
    plugins: fixed ? [postgresWriteFix] : [],
    logLevel: "error",
  });
  return ((await import(pathToFileURL(outfile).href)) as { default: Postgres }).default;
};

/**
 * What the driver wrote to each socket it opened for one query whose first
 * socket closed with the startup message still buffered (before ending the
 * client, which writes a Terminate of its own).
 */
async function reconnectAfterBufferedClose(postgres: Postgres): Promise<Buffer[]> {
  const sockets: FakeSocket[] = [];
  const sql = postgres({
    host: "127.0.0.1",
    port: 1,
    user: "u",
    database: "d",
    max: 1,
    connect_timeout: 5,
    onnotice: () => {},
    socket: () => {
      const socket = new FakeSocket();
      sockets.push(socket);
      // Runs before the driver's setImmediate(nextWrite) for the startup message: the socket dies first.
      if (sockets.length === 1) setImmediate(() => socket.emit("close", false));
      return socket;
    },
  });
  const query = sql`select 1`.catch(() => undefined);
  const giveUpAt = performance.now() + 1_500;
  while (performance.now() < giveUpAt && !(sockets[1]?.received.length ?? 0)) {
    await new Promise((resolve) => setTimeout(resolve, 20));
  }
  const sent = sockets.map((socket) => Buffer.concat(socket.received));
  await sql.end({ timeout: 0 });
  await query;
  return sent;
}

beforeAll(() => {
  dir = mkdtempSync(path.join(os.tmpdir(), "shop-postgres-fix-"));
});
afterAll(() => rmSync(dir, { recursive: true, force: true }));

describe("postgres.js write scheduler fix", () => {
  it("as published, a connection whose socket died with a write buffered never sends again", async () => {
    const sent = await reconnectAfterBufferedClose(await bundled(false));
    expect(sent.length).toBeGreaterThanOrEqual(2);
    expect(sent[1].length).toBe(0);
  });

  it("with the fix, it reconnects and sends its startup message", async () => {
    const sent = await reconnectAfterBufferedClose(await bundled(true));
    expect(sent.length).toBeGreaterThanOrEqual(2);
    // A StartupMessage: length, protocol 3.0, then user/database parameters.
    expect(sent[1].readInt32BE(4)).toBe(196608);
    expect(sent[1].toString("latin1")).toContain("user\0u\0");
  });

  it("refuses a driver whose code it was not written for", () => {
    const source = readFileSync(path.join(REPO_ROOT, "node_modules/postgres/src/connection.js"), "utf8");
    expect(fixPostgresWrites(source)).toContain("chunk = nextWriteTimer = null");
    expect(() => fixPostgresWrites(source.replace("function nextWrite(fn) {", "function nextWrite(fn, x) {"))).toThrow(
      /not the postgres.js 3.4.9 this build fixes/,
    );
  });
});
