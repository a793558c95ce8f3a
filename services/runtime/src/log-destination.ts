// Where a service's log lines go by default: its stdout, written
// synchronously (a line is out before the process can crash), but never
// blocking. pino's default destination (sonic-boom) retries a write to a
// closed pipe forever in flushSync (logger.fatal calls it), sleeping 100 ms
// between attempts in Atomics.wait, so a service whose launcher died could
// never finish its shutdown and ignored SIGTERM. Here a closed stdout
// (EPIPE, EBADF) drops every later line, and a full pipe (EAGAIN: the reader
// is alive but slow) is retried for a bounded time, then the line is dropped
// (and later lines are tried once each until one gets through).
import { writeSync } from "node:fs";
import type { DestinationStream } from "pino";

/** Longest a single line waits for a full pipe before it is dropped. */
const FULL_PIPE_PATIENCE_MS = 1_000;
const sleeper = new Int32Array(new SharedArrayBuffer(4));

export class NonBlockingStdout implements DestinationStream {
  /** Lines that could not be written (closed or persistently full stdout). */
  dropped = 0;
  #closed = false;
  /** The last line was dropped on a full pipe: the next ones do not wait again until one gets through. */
  #stalled = false;

  constructor(private readonly fd = 1) {}

  get closed(): boolean {
    return this.#closed;
  }

  write(line: string): void {
    if (this.#closed) {
      this.dropped++;
      return;
    }
    let buffer = Buffer.from(line, "utf8");
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
        this.dropped++;
        return;
      }
    }
  }
}
