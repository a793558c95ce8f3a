// `npm start`: plan, start, print the endpoints, then stay in the foreground
// until Ctrl-C/SIGTERM (stop everything, exit 0).
//
// Like the platform it stands in for, it keeps the shop serving when one
// service dies: that service is restarted with back-off and every restart is
// logged with its cause (supervisor.ts). It stops everything (exit 1) only
// when it cannot go on: Postgres or NATS died, a service says it cannot
// start (every such problem of every service is printed, one line each), or
// a service keeps crashing before it ever became healthy.
import { describeExit } from "./child.ts";
import { LaunchError } from "./errors.ts";
import { HealthTimeoutError } from "./health.ts";
import { consoleSink, LAUNCHER } from "./output.ts";
import { banner } from "./banner.ts";
import { listProcesses } from "./pid-file.ts";
import {
  ChildExitedError,
  SupervisionEndedError,
  planLaunch,
  SERVICE_STOP_GRACE_MS,
  startSystem,
  type PlanOptions,
  type RunningSystem,
  type SystemFailure,
} from "./system.ts";

const SIGNALS = ["SIGINT", "SIGTERM", "SIGHUP"] as const;

/** Runs the launcher; resolves with the exit code. */
export async function runLauncher(options: PlanOptions = {}): Promise<number> {
  let plan;
  try {
    plan = await planLaunch(options);
  } catch (error) {
    if (!(error instanceof LaunchError)) throw error;
    process.stderr.write(`npm start: ${error.message}\n`);
    return 1;
  }
  const sink = consoleSink(
    plan.services.map((s) => s.name),
    ["postgres", "nats"],
  );
  const warn = (text: string) => sink.line(LAUNCHER, text, "stderr");

  if (plan.stale) {
    warn(
      `stopped what an earlier npm start with this data directory left running (its launcher died without stopping them): ${listProcesses(plan.stale.stopped)}`,
    );
    if (plan.stale.killed.length > 0) warn(`  (${listProcesses(plan.stale.killed)} needed SIGKILL)`);
  }
  if (plan.missing.length > 0) {
    warn(`warning: not starting ${plan.missing.map((s) => s.name).join(", ")}: no services/<name>/src/main.ts yet`);
  }
  if (plan.services.length === 0) {
    warn("no service has a src/main.ts yet: nothing to start");
    return 1;
  }
  sink.line(LAUNCHER, `starting ${plan.services.map((s) => `${s.name} :${s.port}`).join(", ")}`);

  // Ctrl-C (the terminal signals the launcher only: children have their own
  // process groups), SIGTERM and SIGHUP all mean: stop everything, exit 0.
  // npm may forward the same Ctrl-C again, so repeats are only acknowledged;
  // every stop step is bounded, so no second Ctrl-C is needed.
  const shutdown = new AbortController();
  const onSignal = (signal: NodeJS.Signals) => {
    if (shutdown.signal.aborted) return;
    sink.line(
      LAUNCHER,
      `${signal}: stopping services (up to ${SERVICE_STOP_GRACE_MS / 1000} s), then NATS and Postgres`,
    );
    shutdown.abort(new Error(signal));
  };
  for (const signal of SIGNALS) process.on(signal, onSignal);

  let system: RunningSystem;
  try {
    system = await startSystem(plan, { sink, signal: shutdown.signal });
  } catch (error) {
    if (shutdown.signal.aborted) {
      sink.line(LAUNCHER, "stopped");
      return 0;
    }
    reportStartFailure(error, warn);
    return 1;
  }

  for (const line of banner(system, performance.now())) sink.line(LAUNCHER, line);

  const stopRequested = new Promise<void>((resolve) => {
    if (shutdown.signal.aborted) resolve();
    shutdown.signal.addEventListener("abort", () => resolve(), { once: true });
  });
  const died = await Promise.race([system.unexpectedExit, stopRequested]);
  if (died) {
    warn("");
    reportFailure(died, warn);
    warn("");
  }
  const killed = await system.stop();
  if (killed.length > 0) warn(`had to SIGKILL ${killed.join(", ")} (did not stop within the grace period)`);
  sink.line(LAUNCHER, "stopped");
  for (const signal of SIGNALS) process.removeListener(signal, onSignal);
  return died ? 1 : 0;
}

function reportFailure(failure: SystemFailure, warn: (text: string) => void): void {
  if (failure.kind === "infra-exit") {
    warn(`✖ ${failure.exit.name} ${describeExit(failure.exit)}: its last lines are above. Stopping everything.`);
  } else {
    reportSupervisionEnd(failure.error, warn);
  }
}

function reportSupervisionEnd(error: SupervisionEndedError, warn: (text: string) => void): void {
  // The same problem in several services (a shared variable) is one line naming them all.
  const services = new Map<string, string[]>();
  for (const end of error.ends) {
    if (end.kind !== "startup-problems") continue;
    for (const problem of end.problems) services.set(problem, [...(services.get(problem) ?? []), end.name]);
  }
  for (const [problem, names] of services) warn(`✖ ${names.join(", ")}: ${problem}`);
  for (const end of error.ends) {
    if (end.kind === "crash-loop") {
      warn(`✖ ${end.name} ${end.cause}, ${end.deaths} times before it ever became healthy; its last lines:`);
      for (const line of end.lastLines.split("\n")) warn(`    ${line}`);
    }
  }
  warn("✖ stopped everything.");
}

function reportStartFailure(error: unknown, warn: (text: string) => void): void {
  if (error instanceof SupervisionEndedError) {
    reportSupervisionEnd(error, warn);
  } else if (error instanceof ChildExitedError) {
    warn(`✖ ${error.message} during start-up (its output is above); stopped everything.`);
  } else if (error instanceof HealthTimeoutError) {
    warn(`✖ services did not become healthy within ${error.timeoutMs / 1000} s; stopped everything:`);
    for (const t of error.unhealthy) warn(`    ${t.name} at ${t.address}: ${t.lastAnswer}`);
    if (error.notStarted.length > 0)
      warn(`  not started (they start once the above are healthy): ${error.notStarted.join(", ")}`);
  } else if (error instanceof LaunchError) {
    for (const line of `✖ ${error.message}`.split("\n")) warn(line);
  } else {
    warn(
      `✖ start-up failed; stopped everything: ${error instanceof Error ? (error.stack ?? error.message) : String(error)}`,
    );
  }
}
