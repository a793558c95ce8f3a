// One child process of the launcher (a service, nats-server or postgres) with
// its output prefixed into the launcher's, and a bounded stop.
import { spawn, type ChildProcess } from "node:child_process";
import { accessSync, constants } from "node:fs";
import { pipeLines, Tail, type LogSink } from "./output.ts";

export interface ExitInfo {
  name: string;
  code: number | null;
  signal: NodeJS.Signals | null;
  /** Set when the process could not be spawned at all (e.g. ENOENT). */
  error?: Error;
}

export interface ChildOptions {
  name: string;
  command: string;
  args: readonly string[];
  env: NodeJS.ProcessEnv;
  cwd?: string;
  sink: LogSink;
  uid?: number;
  gid?: number;
  /**
   * Open an IPC channel (Node children only): a service exits when it closes,
   * so services never outlive the launcher, even one killed with SIGKILL.
   */
  ipc?: boolean;
  /**
   * For processes that are not Node (Postgres, nats-server): the signal the
   * kernel sends them when the launcher dies, whatever kills it (Linux's
   * parent-death signal, set by util-linux's setpriv when it is on PATH).
   */
  parentDeathSignal?: NodeJS.Signals;
}

/** setpriv, if this machine has it (Linux, util-linux). */
const SETPRIV = ["/usr/bin/setpriv", "/bin/setpriv"].find((file) => {
  try {
    accessSync(file, constants.X_OK);
    return true;
  } catch {
    return false;
  }
});

/** The command line that runs `command` with a parent-death signal, where the platform allows. */
function withParentDeathSignal(
  command: string,
  args: readonly string[],
  signal: NodeJS.Signals | undefined,
): [string, readonly string[]] {
  if (!signal || !SETPRIV || process.platform !== "linux") return [command, args];
  return [SETPRIV, ["--pdeathsig", signal, "--", command, ...args]];
}

export function describeExit(exit: ExitInfo): string {
  if (exit.error) return `could not be started: ${exit.error.message}`;
  if (exit.signal) return `was killed by ${exit.signal}`;
  return `exited with code ${exit.code}`;
}

export class Child {
  readonly name: string;
  readonly process: ChildProcess;
  /** Resolves (never rejects) once the process has exited and its output is drained. */
  readonly exited: Promise<ExitInfo>;
  /** The last lines it printed, for error messages. */
  readonly tail = new Tail();
  #exit: ExitInfo | undefined;
  readonly #lineListeners = new Set<(line: string) => void>();

  constructor(options: ChildOptions) {
    this.name = options.name;
    const [command, args] = withParentDeathSignal(options.command, options.args, options.parentDeathSignal);
    this.process = spawn(command, args, {
      env: options.env,
      cwd: options.cwd,
      stdio: options.ipc ? ["ignore", "pipe", "pipe", "ipc"] : ["ignore", "pipe", "pipe"],
      // Its own process group: a Ctrl-C in the terminal then reaches only the
      // launcher, which stops services first and Postgres/NATS last, instead of
      // every process getting SIGINT at once and services draining against a
      // database that is already shutting down.
      detached: true,
      ...(options.uid === undefined ? {} : { uid: options.uid }),
      ...(options.gid === undefined ? {} : { gid: options.gid }),
    });
    const onLine = (line: string) => {
      this.tail.push(line);
      for (const listener of this.#lineListeners) listener(line);
    };
    const { stdout, stderr } = this.process;
    if (!stdout || !stderr) throw new Error(`${this.name}: spawned without stdout/stderr pipes`);
    pipeLines(stdout, this.name, "stdout", options.sink, onLine);
    pipeLines(stderr, this.name, "stderr", options.sink, onLine);
    this.exited = new Promise<ExitInfo>((resolve) => {
      this.process.on("error", (error) => {
        // "error" without a pid means spawn failed and "close" may never come.
        if (this.process.pid === undefined)
          resolve((this.#exit = { name: this.name, code: null, signal: null, error }));
      });
      this.process.once("close", (code, signal) => resolve((this.#exit = { name: this.name, code, signal })));
    });
  }

  get pid(): number | undefined {
    return this.process.pid;
  }

  get running(): boolean {
    return this.#exit === undefined;
  }

  /** Calls `listener` with every line the process prints; returns an unsubscribe function. */
  onLine(listener: (line: string) => void): () => void {
    this.#lineListeners.add(listener);
    return () => this.#lineListeners.delete(listener);
  }

  /** Sends `signal` if still running; no-op otherwise. */
  signal(signal: NodeJS.Signals): void {
    if (!this.running) return;
    try {
      this.process.kill(signal);
    } catch {
      // Already gone between the check and the kill.
    }
  }

  /**
   * Sends each signal in turn, waiting up to its grace period for the process
   * to exit, and SIGKILL at the end. Returns the exit and whether it took SIGKILL.
   */
  async stop(steps: readonly { signal: NodeJS.Signals; graceMs: number }[]): Promise<ExitInfo & { killed: boolean }> {
    for (const { signal, graceMs } of steps) {
      if (!this.running) break;
      this.signal(signal);
      const exit = await withTimeout(this.exited, graceMs);
      if (exit) return { ...exit, killed: false };
    }
    if (!this.running) return { ...(await this.exited), killed: false };
    this.signal("SIGKILL");
    return { ...(await this.exited), killed: true };
  }
}

/** `promise`'s value, or undefined if it takes longer than `ms`. */
export async function withTimeout<T>(promise: Promise<T>, ms: number): Promise<T | undefined> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<undefined>((resolve) => (timer = setTimeout(() => resolve(undefined), ms)));
  try {
    return await Promise.race([promise, timeout]);
  } finally {
    clearTimeout(timer);
  }
}

/** `promise`'s value, or "timeout" after `ms`; rejects with the signal's reason if it aborts first. */
export async function raceTimeout<T>(promise: Promise<T>, ms: number, signal?: AbortSignal): Promise<T | "timeout"> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<"timeout">((resolve) => (timer = setTimeout(resolve, ms, "timeout")));
  try {
    return await abortable(Promise.race([promise, timeout]), signal);
  } finally {
    clearTimeout(timer);
  }
}

/** Resolves after `ms`, or rejects with the signal's reason when it aborts. */
export function sleep(ms: number, signal?: AbortSignal): Promise<void> {
  return new Promise((resolve, reject) => {
    if (signal?.aborted) {
      reject(signal.reason);
      return;
    }
    const timer = setTimeout(() => {
      signal?.removeEventListener("abort", onAbort);
      resolve();
    }, ms);
    const onAbort = () => {
      clearTimeout(timer);
      reject(signal?.reason);
    };
    signal?.addEventListener("abort", onAbort, { once: true });
  });
}

/** `promise`, unless `signal` aborts first (then rejects with its reason). */
export function abortable<T>(promise: Promise<T>, signal?: AbortSignal): Promise<T> {
  if (!signal) return promise;
  if (signal.aborted) return Promise.reject(signal.reason);
  return new Promise<T>((resolve, reject) => {
    const onAbort = () => reject(signal.reason);
    signal.addEventListener("abort", onAbort, { once: true });
    promise.then(
      (value) => {
        signal.removeEventListener("abort", onAbort);
        resolve(value);
      },
      (error: unknown) => {
        signal.removeEventListener("abort", onAbort);
        reject(error);
      },
    );
  });
}
