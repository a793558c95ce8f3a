// NATS for `npm start`: the user's NATS_URL, else a private nats-server with
// JetStream on loopback, its streams kept under .data/nats between runs.
import { accessSync, constants, mkdirSync } from "node:fs";
import { createConnection } from "node:net";
import path from "node:path";
import { Child, describeExit, raceTimeout } from "./child.ts";
import { LaunchError } from "./errors.ts";
import type { LogSink } from "./output.ts";
import { LOOPBACK } from "./ports.ts";

export const NATS_BINARY = "nats-server";

/** The first executable `binary` on `pathVariable` (PATH syntax), if any. */
export function findOnPath(binary: string, pathVariable: string | undefined): string | undefined {
  for (const dir of (pathVariable ?? "").split(path.delimiter)) {
    if (!dir) continue;
    const candidate = path.join(dir, binary);
    try {
      accessSync(candidate, constants.X_OK);
      return candidate;
    } catch {
      // not here
    }
  }
  return undefined;
}

/**
 * Debian's package installs nats-server in /usr/sbin, which is not on a
 * regular user's PATH there: worth a hint rather than a silent fallback.
 */
const SBIN_DIRS = ["/usr/sbin", "/usr/local/sbin"];

export function natsMissingMessage(): string {
  const offPath = findOnPath(NATS_BINARY, SBIN_DIRS.join(path.delimiter));
  const hint = offPath
    ? [
        `(nats-server is installed at ${offPath}, but ${path.dirname(offPath)} is not on PATH: PATH="$PATH:${path.dirname(offPath)}" npm start)`,
      ]
    : [];
  return [
    "the services need NATS with JetStream, but NATS_URL is not set and nats-server is not on PATH.",
    ...hint,
    "Either install nats-server (then npm start runs a private one with its data in .data/nats):",
    "  Debian/Ubuntu:  sudo apt-get install nats-server",
    "  macOS:          brew install nats-server",
    "  elsewhere:      https://github.com/nats-io/nats-server/releases",
    "or point the services at a running NATS with JetStream enabled:",
    "  NATS_URL=nats://127.0.0.1:4222 npm start",
  ].join("\n");
}

export interface NatsHandle {
  url: string;
  /** The private nats-server, when npm start runs one. */
  child?: Child;
  stop(): Promise<void>;
}

export function externalNats(url: string): NatsHandle {
  return { url, stop: async () => {} };
}

/** Checks that the first server of the user's NATS_URL accepts connections, before any service starts. */
export async function probeExternalNats(url: string): Promise<void> {
  const first = url.split(",")[0].trim();
  const parsed = URL.canParse(first)
    ? new URL(first)
    : URL.canParse(`nats://${first}`)
      ? new URL(`nats://${first}`)
      : undefined;
  if (!parsed)
    throw new LaunchError(`NATS_URL must be a nats:// URL such as nats://127.0.0.1:4222 (got ${JSON.stringify(url)})`);
  const host = parsed.hostname || LOOPBACK;
  const port = Number(parsed.port || 4222);
  await new Promise<void>((resolve, reject) => {
    const socket = createConnection({ host, port, timeout: 3_000 });
    socket.once("connect", () => {
      socket.destroy();
      resolve();
    });
    socket.once("timeout", () => {
      socket.destroy();
      reject(new LaunchError(`NATS_URL (${first}) is unreachable (no answer from ${host}:${String(port)} within 3 s)`));
    });
    socket.once("error", (error) => {
      reject(new LaunchError(`NATS_URL (${first}) is unreachable (${error.message})`));
    });
  });
}

/**
 * Starts `nats-server -js` on 127.0.0.1:`port` with its store in `storeDir`
 * and resolves once it logs that it is ready.
 */
export async function startPrivateNats(options: {
  binary: string;
  port: number;
  storeDir: string;
  sink: LogSink;
  signal?: AbortSignal;
}): Promise<NatsHandle> {
  mkdirSync(options.storeDir, { recursive: true });
  const child = new Child({
    name: "nats",
    command: options.binary,
    args: ["-js", "-a", LOOPBACK, "-p", String(options.port), "-sd", options.storeDir, "-n", "shop-dev"],
    env: process.env,
    sink: options.sink,
    // Stops (flushing JetStream) if the launcher dies without stopping it (kill -9).
    parentDeathSignal: "SIGTERM",
  });
  const handle: NatsHandle = {
    url: `nats://${LOOPBACK}:${options.port}`,
    child,
    async stop() {
      // SIGTERM: nats-server flushes JetStream and exits; SIGKILL if it hangs.
      await child.stop([{ signal: "SIGTERM", graceMs: 5_000 }]);
    },
  };
  const ready = new Promise<void>((resolve) => {
    const off = child.onLine((line) => {
      if (line.includes("Server is ready")) {
        off();
        resolve();
      }
    });
  });
  const outcome = await raceTimeout(
    Promise.race([ready.then(() => "ready" as const), child.exited]),
    20_000,
    options.signal,
  ).catch(async (error: unknown) => {
    await handle.stop();
    throw error;
  });
  if (outcome === "ready") return handle;
  await handle.stop();
  const why = outcome === "timeout" ? "did not report ready within 20 s" : describeExit(outcome);
  throw new LaunchError(`nats-server ${why}. Its last lines:\n${child.tail.toString()}`);
}
