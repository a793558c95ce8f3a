// The whole shop for browser tests, started the way `npm start` starts it
// (scripts/start: one real process per service, health-checked), but private
// to this test run: its own embedded Postgres cluster in a temporary
// directory, event subjects and streams under a unique prefix on the
// machine's NATS, and free ports for every service.
import { chmodSync, mkdtempSync, rmSync } from "node:fs";
import os from "node:os";
import path from "node:path";
import { randomBytes } from "node:crypto";
import { EventBus, EventNaming } from "@shop/runtime/events/index";
import { freePorts } from "../../scripts/start/ports.ts";
import { discoverManifests, portVariable } from "../../scripts/start/services.ts";
import { planLaunch, startSystem, type RunningSystem } from "../../scripts/start/system.ts";

export const NATS_URL = process.env.NATS_URL ?? "nats://127.0.0.1:4222";

export interface ShopSystem {
  /** The gateway: web app and public API, e.g. http://127.0.0.1:41234 */
  url: string;
  /** Every line the processes printed, for a failing test's report. */
  output: string[];
  stop(): Promise<void>;
}

/** `env`: settings for every service, e.g. PROCESSOR_SLOW_DELAY_MS. */
export async function startShop(env: Record<string, string> = {}): Promise<ShopSystem> {
  const id = `b${randomBytes(5).toString("hex")}`;
  const naming = new EventNaming({ subjectPrefix: id, streamPrefix: id.toUpperCase() });
  const dataDir = mkdtempSync(path.join(os.tmpdir(), "shop-browser-"));
  // mkdtemp makes it private; Postgres runs as its own user when we are root and must reach inside.
  chmodSync(dataDir, 0o755);
  const manifests = await discoverManifests();
  const ports = await freePorts(manifests.length + 1);
  const processEnv: NodeJS.ProcessEnv = {
    ...process.env,
    ...env,
    NATS_URL,
    EVENTS_SUBJECT_PREFIX: naming.subjectPrefix,
    EVENTS_STREAM_PREFIX: naming.streamPrefix,
    POSTGRES_PORT: String(ports.pop()),
    LOG_LEVEL: process.env.TEST_LOG_LEVEL ?? "warn",
    // Metrics ports (service port + 1000) could collide with another run's service ports.
    METRICS_PORT: "0",
  };
  // A machine-wide DATABASE_URL would share databases between runs.
  delete processEnv.DATABASE_URL;
  manifests.forEach((m, i) => (processEnv[portVariable(m.name)] = String(ports[i])));

  const output: string[] = [];
  const plan = await planLaunch({ env: processEnv, dataDir });
  if (plan.missing.length > 0)
    throw new Error(`services without a main.ts: ${plan.missing.map((s) => s.name).join(", ")}`);
  let system: RunningSystem;
  try {
    system = await startSystem(plan, { sink: { line: (source, text) => output.push(`${source} | ${text}`) } });
  } catch (error) {
    rmSync(dataDir, { recursive: true, force: true });
    throw new Error(`the shop did not start: ${(error as Error).message}\n${output.slice(-80).join("\n")}`, {
      cause: error,
    });
  }
  const gateway = system.services.find((s) => s.name === "gateway")!;
  return {
    url: gateway.address,
    output,
    async stop() {
      await system.stop();
      rmSync(dataDir, { recursive: true, force: true });
      const bus = await EventBus.connect({ servers: NATS_URL, naming });
      for await (const stream of bus.jsm.streams.names()) {
        if (stream.startsWith(`${naming.streamPrefix}_`)) await bus.jsm.streams.delete(stream).catch(() => {});
      }
      await bus.close();
    },
  };
}
