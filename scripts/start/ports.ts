// Port checks, so a clash is reported before anything starts rather than as a
// service crashing with EADDRINUSE half-way through start-up.
import { readFileSync } from "node:fs";
import { createServer } from "node:net";
import { LaunchError } from "./errors.ts";
import { describePortHolder } from "./port-holders.ts";

export const LOOPBACK = "127.0.0.1";

/** Whether `port` can be bound on `host` right now. */
export function isPortFree(port: number, host = LOOPBACK): Promise<boolean> {
  return new Promise((resolve) => {
    const server = createServer();
    server.unref();
    server.once("error", () => resolve(false));
    server.listen({ port, host, exclusive: true }, () => server.close(() => resolve(true)));
  });
}

/**
 * Where freePort picks: below the kernel's range for outgoing connections'
 * local ports (Linux: /proc/sys/net/ipv4/ip_local_port_range). A port the
 * kernel hands out for `listen(0)` comes from that range, so between choosing
 * it and binding it any outgoing connection on the machine (a database pool,
 * a running `npm start`) could take it: EADDRINUSE. Below the range, only
 * another listener can.
 */
function listeningPortRange(): [low: number, high: number] {
  try {
    const low = Number(readFileSync("/proc/sys/net/ipv4/ip_local_port_range", "utf8").trim().split(/\s+/)[0]);
    if (Number.isInteger(low) && low > 11_000) return [10_000, low - 1];
  } catch {
    // Not Linux: fall through to IANA's registered range below the usual ephemeral one.
  }
  return [20_000, 32_767];
}
const [PORT_LOW, PORT_HIGH] = listeningPortRange();

/** A port that is free now, outside the range outgoing connections use (see listeningPortRange). */
export async function freePort(host = LOOPBACK): Promise<number> {
  for (let attempt = 0; attempt < 200; attempt++) {
    const port = PORT_LOW + Math.floor(Math.random() * (PORT_HIGH - PORT_LOW + 1));
    if (await isPortFree(port, host)) return port;
  }
  throw new Error(`no free port between ${PORT_LOW} and ${PORT_HIGH} on ${host}`);
}

/** `count` distinct free ports. */
export async function freePorts(count: number, host = LOOPBACK): Promise<number[]> {
  const ports = new Set<number>();
  while (ports.size < count) ports.add(await freePort(host));
  return [...ports];
}

/** Parses a port from an environment variable; throws a message naming it. */
export function parsePort(variable: string, raw: string | undefined, fallback: number): number {
  if (raw === undefined || raw.trim() === "") return fallback;
  const port = /^\d+$/.test(raw.trim()) ? Number(raw) : NaN;
  if (!Number.isInteger(port) || port < 1 || port > 65535) {
    throw new LaunchError(`${variable} must be an integer between 1 and 65535 (got ${JSON.stringify(raw)})`);
  }
  return port;
}

/** How long a port held by something other than a listener (TIME-WAIT, an outgoing connection) is retried. */
const TRANSIENT_HOLD_RETRY_MS = 3_000;

/**
 * Undefined when `port` can be bound; else why not, in words. A listener is
 * reported at once with its process when it can be found; a port held only
 * by a connection (an outgoing one took it as its local port, or it lingers
 * in TIME-WAIT) is retried for a few seconds first, since the kernel frees it.
 */
export async function portClash(port: number, host = LOOPBACK): Promise<string | undefined> {
  const giveUpAt = performance.now() + TRANSIENT_HOLD_RETRY_MS;
  for (;;) {
    if (await isPortFree(port, host)) return undefined;
    const holder = describePortHolder(port);
    if (holder.listening) return holder.description;
    if (performance.now() >= giveUpAt) {
      return `${holder.description} (outgoing connections get local ports in ${String(PORT_HIGH + 1)}-60999 on Linux: choose a port below ${String(PORT_HIGH + 1)})`;
    }
    await new Promise((resolve) => setTimeout(resolve, 250));
  }
}
