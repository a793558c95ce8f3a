// A child process's output as lines, kept, and waited on: "resolve once the
// launcher prints `... ready`" for the tests that start `npm start` as a real
// process (tests/support/launcher-process.ts) and for the chaos run
// (scripts/chaos/shop-process.ts).
import type { Readable } from "node:stream";

/** How many of the last lines an error quotes. */
const QUOTED_LINES = 15;

export class LineWaiter {
  /** Every complete line so far, stdout and stderr interleaved as they arrived. */
  readonly lines: string[] = [];
  private readonly waiters = new Set<{ pattern: RegExp; resolve: (line: string) => void }>();
  private readonly exited: Promise<unknown>;
  private readonly what: string;

  /** `exited` settles when the process exits; `what` names it in errors ("the launcher"). */
  constructor(exited: Promise<unknown>, what: string) {
    this.exited = exited;
    this.what = what;
  }

  /** Splits `stream` into lines (a line cut between two chunks is joined); `onChunk` sees the raw chunks. */
  follow(stream: Readable | null | undefined, onChunk?: (chunk: Buffer) => void): void {
    let partial = "";
    stream?.on("data", (chunk: Buffer) => {
      onChunk?.(chunk);
      const lines = (partial + chunk.toString("utf8")).split("\n");
      partial = lines.pop() ?? "";
      for (const line of lines) this.add(line);
    });
  }

  private add(line: string): void {
    this.lines.push(line);
    for (const waiter of this.waiters) {
      if (waiter.pattern.test(line)) {
        this.waiters.delete(waiter);
        waiter.resolve(line);
      }
    }
  }

  /**
   * The first line matching `pattern` from line index `from` on, printed
   * already or to come; rejects after `timeoutMs`, or when the process exits
   * first, quoting the last lines.
   */
  waitFor(pattern: RegExp, { from = 0, timeoutMs }: { from?: number; timeoutMs: number }): Promise<string> {
    const seen = this.lines.slice(from).find((line) => pattern.test(line));
    if (seen !== undefined) return Promise.resolve(seen);
    return new Promise((resolve, reject) => {
      const fail = (why: string) => {
        if (!this.waiters.delete(waiter)) return;
        clearTimeout(timer);
        reject(new Error(`${why}; last lines:\n${this.lines.slice(-QUOTED_LINES).join("\n")}`));
      };
      const timer = setTimeout(() => {
        fail(`no line matching ${String(pattern)} within ${String(timeoutMs)} ms`);
      }, timeoutMs);
      const waiter = {
        pattern,
        resolve: (line: string) => {
          clearTimeout(timer);
          resolve(line);
        },
      };
      this.waiters.add(waiter);
      void this.exited.then(() => {
        fail(`${this.what} exited before printing ${String(pattern)}`);
      });
    });
  }
}
