// One chaos run, start to verdict (the CLI is scripts/chaos.ts).
import { Random } from "./random.ts";
import { runChecks, Observer, waitForQuiescence, type CheckResult } from "./checks.ts";
import { runFaults } from "./faults.ts";
import { describeFault, faultSchedule } from "./schedule.ts";
import { startShop } from "./shop-process.ts";
import { prepareWorkload, runWorkload } from "./workload.ts";

export interface ChaosOptions {
  dataDir: string;
  seed: number;
  orders: number;
  durationMs: number;
  replicas: number;
  kills: number;
  natsRestarts: number;
  postgresRestarts: number;
  customers: number;
  settleMs: number;
  log: (line: string) => void;
}

/** How long one order's calls are retried. */
const RETRY_FOR_MS = 180_000;

/** The services' settings for the run: short waits, so that a run settles in seconds rather than minutes. */
const SERVICE_ENV: Record<string, string> = {
  CHARGE_RETRY_DELAY_MS: "50",
  PROCESSOR_SLOW_DELAY_MS: "1500",
  // A charge whose charger died is picked up again after 5 s rather than 2 min.
  PENDING_RECOVERY_AFTER_MS: "5000",
  PENDING_RECOVERY_INTERVAL_MS: "1000",
  // Waiting states time out (and cancel the order) sooner than by default, so the timeout paths run too.
  ORDER_PENDING_TIMEOUT_MS: "30000",
  ORDER_PAYMENT_TIMEOUT_MS: "45000",
  LOG_LEVEL: "warn",
};

export async function runChaos(options: ChaosOptions): Promise<{ passed: number; failed: number; elapsedMs: number }> {
  const { log } = options;
  const began = performance.now();
  const random = new Random(options.seed);
  const scheduleRandom = random.fork();
  const workloadRandom = random.fork();
  const shop = await startShop({ dataDir: options.dataDir, replicas: options.replicas, env: SERVICE_ENV });
  const results: CheckResult[] = [];
  let observer: Observer | undefined;
  // However the system behaves, the run ends: start-up, the orders' retries, settling and checks each have a bound.
  const boundMs = 240_000 + options.durationMs + RETRY_FOR_MS + options.settleMs + 300_000;
  let bound: NodeJS.Timeout | undefined;
  const overrun = new Promise<never>((_resolve, reject) => {
    bound = setTimeout(
      () => reject(new Error(`the run took longer than its bound of ${String(boundMs / 1000)} s`)),
      boundMs,
    );
  });
  try {
    await Promise.race([overrun, body()]);
  } catch (error) {
    results.push({ name: "the run completed", ok: false, detail: (error as Error).stack ?? String(error) });
    log(shop.output.slice(-30).join("\n"));
  } finally {
    clearTimeout(bound);
    await observer?.close().catch(() => {});
    const code = await shop.stop();
    if (code !== 0)
      results.push({ name: "the launcher stopped cleanly", ok: false, detail: `exit code ${String(code)}` });
  }
  for (const r of results) log(`${r.ok ? "✔" : "✖"} ${r.name}: ${r.detail}`);
  const failed = results.filter((r) => !r.ok).length;
  return { passed: results.length - failed, failed, elapsedMs: performance.now() - began };

  async function body(): Promise<void> {
    const up = await shop.waitForLine(/shop is up/, { timeoutMs: 240_000 });
    log(`chaos: ${up.replace(/^.*\| /, "")}; ${shop.instances.map((i) => i.name).join(", ")}`);
    const workload = await prepareWorkload(shop, { customers: options.customers, orders: options.orders });
    const instances = new Map<string, string[]>();
    for (const i of shop.instances) instances.set(i.service, [...(instances.get(i.service) ?? []), i.name]);
    const schedule = faultSchedule(scheduleRandom, {
      durationMs: options.durationMs,
      kills: options.kills,
      natsRestarts: options.natsRestarts,
      postgresRestarts: options.postgresRestarts,
      instances,
    });
    log(`chaos: ${options.orders} orders over ${options.durationMs / 1000} s, ${schedule.length} faults:`);
    for (const fault of schedule) log(`  planned ${describeFault(fault)}`);

    const startedAt = performance.now();
    const [, faults] = await Promise.all([
      runWorkload(workload, {
        orders: options.orders,
        durationMs: options.durationMs,
        concurrency: 48,
        retryForMs: RETRY_FOR_MS,
        random: workloadRandom,
      }),
      runFaults(shop, schedule, startedAt, (line) => log(`  ${line}`)),
    ]);
    log(
      `chaos: orders and faults done after ${((performance.now() - startedAt) / 1000).toFixed(1)} s; waiting for quiescence`,
    );
    const settleFrom = performance.now();
    observer = await Observer.connect(shop);
    const stillBusy = await waitForQuiescence(observer, options.settleMs);
    log(
      `chaos: ${stillBusy.length === 0 ? "quiet" : "still busy"} after ${((performance.now() - settleFrom) / 1000).toFixed(1)} s`,
    );

    const notDone = faults.filter((f) => !f.done);
    results.push({
      name: "every planned fault happened",
      ok: notDone.length === 0,
      detail: notDone.length === 0 ? `${faults.length} faults` : notDone.map((f) => f.outcome).join("; "),
    });
    const restarts = shop.output.filter((line) => /is healthy again|is back/.test(line)).length;
    results.push({
      name: "the launcher kept the shop running (restarted what died, never gave up)",
      ok: shop.running,
      detail: shop.running ? `${restarts} restarts` : "the launcher exited; its log says why",
    });
    results.push(...(await runChecks(observer, workload, stillBusy)));
    workload.close();
  }
}
