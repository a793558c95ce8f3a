// Collects the JSON log lines of in-process services (startSystem's `logs`).
import { Writable } from "node:stream";

export class LogSink extends Writable {
  readonly lines: string[] = [];
  #partial = "";

  override _write(chunk: Buffer | string, _encoding: BufferEncoding, done: (error?: Error | null) => void): void {
    const text = this.#partial + chunk.toString();
    const parts = text.split("\n");
    this.#partial = parts.pop() ?? "";
    this.lines.push(...parts.filter((l) => l.length > 0));
    done();
  }

  /** Parsed lines (pino writes one JSON object per line). */
  records(): Record<string, unknown>[] {
    return this.lines.map((l) => JSON.parse(l) as Record<string, unknown>);
  }
}
