// Carries out the fault schedule against the running shop, one fault at a
// time at its instant: SIGKILL of a service instance (only once every
// instance of that service answers SERVING again, so with replicas at most
// one of a pair is down), SIGKILL of nats-server, and an immediate-mode
// shutdown of Postgres (SIGQUIT to the postmaster: every connection dropped,
// WAL replayed when the launcher brings it back).
import { waitForHealthy } from "../start/health.ts";
import { must } from "./random.ts";
import { describeFault, type Fault } from "./schedule.ts";
import type { ShopProcess } from "./shop-process.ts";

export interface FaultRecord {
  fault: Fault;
  /** When it happened, from the start of the run. */
  atMs: number;
  /** What happened, or why it could not. */
  outcome: string;
  done: boolean;
}

export async function runFaults(
  shop: ShopProcess,
  schedule: readonly Fault[],
  startedAt: number,
  log: (line: string) => void,
): Promise<FaultRecord[]> {
  const records: FaultRecord[] = [];
  for (const fault of schedule) {
    const wait = startedAt + fault.atMs - performance.now();
    if (wait > 0) await new Promise((resolve) => setTimeout(resolve, wait));
    let record: FaultRecord;
    try {
      record = await inflict(shop, fault, startedAt);
    } catch (error) {
      record = { fault, atMs: performance.now() - startedAt, outcome: (error as Error).message, done: false };
    }
    records.push(record);
    log(`${(record.atMs / 1000).toFixed(1).padStart(6)} s  ${record.done ? "" : "✖ not done: "}${record.outcome}`);
  }
  return records;
}

async function inflict(shop: ShopProcess, fault: Fault, startedAt: number): Promise<FaultRecord> {
  const now = () => performance.now() - startedAt;
  if (fault.kind === "kill") {
    const instance = must(
      shop.instances.find((i) => i.name === fault.instance),
      `instance ${fault.instance}`,
    );
    // Never two of a service down at once: the whole set serves first.
    await waitForHealthy(shop.of(instance.service), { timeoutMs: 60_000 });
    const pid = shop.pid(instance.name);
    if (!pid) throw new Error(`${describeFault(fault)}: no process for ${instance.name}`);
    process.kill(pid, "SIGKILL");
    return { fault, atMs: now(), outcome: `SIGKILL ${instance.name} (pid ${pid})`, done: true };
  }
  const name = fault.kind === "nats-restart" ? "nats" : "postgres";
  const pid = shop.pid(name);
  if (!pid) throw new Error(`${describeFault(fault)}: no ${name} process`);
  const from = shop.output.length;
  process.kill(pid, fault.kind === "nats-restart" ? "SIGKILL" : "SIGQUIT");
  const atMs = now();
  await shop.waitForLine(new RegExp(`${name} is back`), { from, timeoutMs: 120_000 });
  const what = fault.kind === "nats-restart" ? "SIGKILL nats-server" : "Postgres immediate shutdown (SIGQUIT)";
  return {
    fault,
    atMs,
    outcome: `${what} (pid ${pid}); back after ${((now() - atMs) / 1000).toFixed(1)} s`,
    done: true,
  };
}
