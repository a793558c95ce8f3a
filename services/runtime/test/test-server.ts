// Starts real servers on ephemeral ports for the runtime tests and captures
// their JSON log lines so tests can assert on them.
import { pino } from "pino";
import { afterEach } from "vitest";
import { startServer, type RunningServer, type ServerOptions } from "../src/server.ts";

export interface LogCapture {
  lines: Record<string, unknown>[];
}

export function captureLogs(): LogCapture & { logger: pino.Logger } {
  const lines: Record<string, unknown>[] = [];
  const logger = pino(
    { level: "debug", base: { service: "test" } },
    { write: (line: string) => void lines.push(JSON.parse(line) as Record<string, unknown>) },
  );
  return { lines, logger };
}

const running: RunningServer[] = [];
afterEach(async () => {
  await Promise.all(running.splice(0).map((s) => s.stop()));
});

/** A server on 127.0.0.1:<free port>, stopped after each test. */
export async function startTestServer(
  options: Omit<ServerOptions, "name" | "port" | "logger"> & Partial<Pick<ServerOptions, "port">>,
): Promise<RunningServer & LogCapture> {
  const logs = captureLogs();
  const server = await startServer({ name: "test", port: 0, logger: logs.logger, ...options });
  running.push(server);
  return Object.assign(server, { lines: logs.lines });
}

/** A promise plus its resolve function, for handing control between a test and a handler. */
export function deferred<T = void>() {
  let resolve!: (value: T) => void;
  const promise = new Promise<T>((r) => (resolve = r));
  return { promise, resolve };
}
