// Restarts a service process that dies, as a kubelet restarts a pod's
// container: after a back-off that starts at 0.5 s and doubles up to a cap,
// reset once the process has stayed up for a while. Each restart is logged
// with its cause. A process that keeps dying before it ever became healthy
// is a crash loop at start-up (a bug or a bad setting), and a process that
// says it cannot start (exit code 78 with "cannot start: ..." lines, see the
// runtime's startup.ts) is not restarted at all: both end the launch.
import { Child, describeExit, type ExitInfo } from "./child.ts";
import { STARTUP_PROBLEM_EXIT_CODE, STARTUP_PROBLEM_PREFIX } from "@shop/runtime/startup-exit";

export interface RestartPolicy {
  /** First back-off; doubled after each restart up to maxDelayMs. */
  initialDelayMs: number;
  maxDelayMs: number;
  /** A process that stayed up this long starts the back-off afresh. */
  resetAfterMs: number;
  /** Deaths before the first healthy answer that count as a crash loop. */
  startupCrashLimit: number;
}

export const DEFAULT_RESTART_POLICY: RestartPolicy = {
  initialDelayMs: 500,
  maxDelayMs: 15_000,
  resetAfterMs: 30_000,
  startupCrashLimit: 3,
};

/** Why a process ended, in words: exit code, signal, or running out of memory. */
export function exitCause(exit: ExitInfo, lastLines: string): string {
  if (/heap out of memory|Allocation failed|ERR_WORKER_OUT_OF_MEMORY/i.test(lastLines))
    return `ran out of memory (${describeExit(exit)})`;
  if (exit.signal === "SIGKILL") return "was killed by SIGKILL (from outside, or the kernel's out-of-memory killer)";
  return describeExit(exit);
}

/** The "cannot start: ..." lines a service printed before exiting with 78. */
export function startupProblems(exit: ExitInfo, lastLines: readonly string[]): string[] | undefined {
  if (exit.code !== STARTUP_PROBLEM_EXIT_CODE) return undefined;
  const problems = lastLines.flatMap((line) => {
    const at = line.indexOf(STARTUP_PROBLEM_PREFIX);
    return at >= 0 ? [line.slice(at + STARTUP_PROBLEM_PREFIX.length)] : [];
  });
  return problems.length > 0 ? problems : undefined;
}

export type SupervisionEnd =
  | { kind: "startup-problems"; name: string; problems: string[] }
  | { kind: "crash-loop"; name: string; deaths: number; cause: string; lastLines: string };

export interface SupervisorEvents {
  /** A restart was scheduled. */
  onRestart(info: { name: string; cause: string; restart: number; delayMs: number }): void;
  /** A new process was started (after a restart): wait for it to be healthy again. */
  onRespawn(child: Child): void;
  /** Supervision gave up on this service. */
  onGiveUp(end: SupervisionEnd): void;
}

export class Supervisor {
  readonly name: string;
  #child: Child;
  #restarts = 0;
  #delayMs: number;
  #deathsBeforeHealthy = 0;
  #everHealthy = false;
  #stopped = false;
  #startedAt = performance.now();
  #timer: NodeJS.Timeout | undefined;
  readonly #spawn: () => Child;
  readonly #policy: RestartPolicy;
  readonly #events: SupervisorEvents;

  constructor(name: string, spawn: () => Child, events: SupervisorEvents, policy = DEFAULT_RESTART_POLICY) {
    this.name = name;
    this.#spawn = spawn;
    this.#events = events;
    this.#policy = policy;
    this.#delayMs = policy.initialDelayMs;
    this.#child = this.#start();
  }

  /** The process running now (or the last one, while a restart waits). */
  get child(): Child {
    return this.#child;
  }

  get restarts(): number {
    return this.#restarts;
  }

  /** The launcher saw it answer SERVING. */
  markHealthy(): void {
    this.#everHealthy = true;
    this.#deathsBeforeHealthy = 0;
  }

  /** No more restarts (launcher stopping); a pending restart is cancelled. */
  stopSupervising(): void {
    this.#stopped = true;
    clearTimeout(this.#timer);
  }

  #start(): Child {
    const child = this.#spawn();
    this.#startedAt = performance.now();
    void child.exited.then((exit) => {
      this.#onExit(child, exit);
    });
    return child;
  }

  #onExit(child: Child, exit: ExitInfo): void {
    if (this.#stopped) return;
    const lines = child.tail.lines();
    const problems = startupProblems(exit, lines);
    if (problems && !this.#everHealthy) {
      this.#events.onGiveUp({ kind: "startup-problems", name: this.name, problems });
      return;
    }
    const cause = problems ? `could not start again: ${problems.join("; ")}` : exitCause(exit, lines.join("\n"));
    if (!this.#everHealthy && ++this.#deathsBeforeHealthy >= this.#policy.startupCrashLimit) {
      this.#events.onGiveUp({
        kind: "crash-loop",
        name: this.name,
        deaths: this.#deathsBeforeHealthy,
        cause,
        lastLines: child.tail.toString(),
      });
      return;
    }
    if (performance.now() - this.#startedAt >= this.#policy.resetAfterMs) this.#delayMs = this.#policy.initialDelayMs;
    const delayMs = this.#delayMs;
    this.#delayMs = Math.min(this.#delayMs * 2, this.#policy.maxDelayMs);
    this.#restarts++;
    this.#events.onRestart({ name: this.name, cause, restart: this.#restarts, delayMs });
    this.#timer = setTimeout(() => {
      if (this.#stopped) return;
      this.#child = this.#start();
      this.#events.onRespawn(this.#child);
    }, delayMs);
  }
}
