// Where a service's log lines go by default: its stdout, batched and never
// blocking.
//
// Batched: lines written in one turn of the event loop go out in one write
// (at the end of the turn, or at once past BATCH_BYTES). A write per line
// was 7% of a catalog GetProduct's CPU (one access-log line per call). A
// fatal line (pino calls flushSync) and everything before it is written at
// once, and whatever is pending when the process exits (process.exit
// included) is written on 'exit'; only a SIGKILL can lose the lines of the
// turn it interrupts.
//
// Never blocking: pino's default destination (sonic-boom) retries a write to
// a closed pipe forever in flushSync, sleeping 100 ms between attempts in
// Atomics.wait, so a service whose launcher died could never finish its
// shutdown and ignored SIGTERM. Here a closed stdout (EPIPE, EBADF) drops
// every later line, and a full pipe (EAGAIN: the reader is alive but slow)
// is retried for a bounded time, then the batch is dropped (and later ones
// are tried once each until one gets through).
import { writeSync } from "node:fs";
import type { DestinationStream } from "pino";

/** Longest a batch waits for a full pipe before it is dropped. */
const FULL_PIPE_PATIENCE_MS = 1_000;
/** Pending lines are written at once past this size, without waiting for the end of the turn. */
const BATCH_BYTES = 64 * 1024;
const NEWLINE = 0x0a;
const sleeper = new Int32Array(new SharedArrayBuffer(4));

/** Destinations with lines not yet written, flushed when the process exits. */
const withPendingLines = new Set<NonBlockingStdout>();
process.once("exit", () => {
  for (const destination of withPendingLines) destination.flushSync();
});

export class NonBlockingStdout implements DestinationStream {
  /** Lines that could not be written (closed or persistently full stdout). */
  dropped = 0;
  #closed = false;
  /** The last batch was dropped on a full pipe: the next ones do not wait again until one gets through. */
  #stalled = false;
  #pending: string[] = [];
  #pendingBytes = 0;
  #scheduled = false;

  constructor(private readonly fd = 1) {}

  get closed(): boolean {
    return this.#closed;
  }

  write(line: string): void {
    if (this.#closed) {
      this.dropped++;
      return;
    }
    if (this.#pending.length === 0) withPendingLines.add(this);
    this.#pending.push(line);
    this.#pendingBytes += line.length;
    if (this.#pendingBytes >= BATCH_BYTES) this.flushSync();
    else if (!this.#scheduled) {
      this.#scheduled = true;
      setImmediate(() => {
        this.#scheduled = false;
        this.flushSync();
      });
    }
  }

  /** Writes every pending line now (pino calls this after a fatal line). */
  flushSync(): void {
    if (this.#pending.length === 0) return;
    withPendingLines.delete(this);
    let buffer = Buffer.from(this.#pending.join(""), "utf8");
    const lines = this.#pending.length;
    this.#pending = [];
    this.#pendingBytes = 0;
    if (this.#closed) {
      this.dropped += lines;
      return;
    }
    const giveUpAt = performance.now() + (this.#stalled ? 0 : FULL_PIPE_PATIENCE_MS);
    while (buffer.length > 0) {
      try {
        buffer = buffer.subarray(writeSync(this.fd, buffer));
        this.#stalled = false;
      } catch (error) {
        const code = (error as NodeJS.ErrnoException).code;
        if ((code === "EAGAIN" || code === "EBUSY") && performance.now() < giveUpAt) {
          Atomics.wait(sleeper, 0, 0, 5);
          continue;
        }
        if (code !== "EAGAIN" && code !== "EBUSY") this.#closed = true;
        else this.#stalled = true;
        this.dropped += linesIn(buffer);
        return;
      }
    }
  }
}

/** Lines (each ends with a newline) in what is left of a batch; a line cut short counts. */
function linesIn(rest: Buffer): number {
  let count = 0;
  for (let at = rest.indexOf(NEWLINE); at !== -1; at = rest.indexOf(NEWLINE, at + 1)) count++;
  return Math.max(count, 1);
}
