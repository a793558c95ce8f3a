// Where the launcher's and its children's lines go: one stream per terminal,
// every line prefixed with the process it came from (`order        | {...}`),
// so seven JSON loggers, Postgres and NATS stay readable side by side.
import type { Readable } from "node:stream";
import { createInterface } from "node:readline";

export type StreamName = "stdout" | "stderr";

export interface LogSink {
  /** One complete line (no trailing newline) from `source`. */
  line(source: string, text: string, stream?: StreamName): void;
}

/** The source name the launcher uses for its own messages. */
export const LAUNCHER = "start";

const PALETTE = [36, 32, 33, 35, 34, 96, 92, 93, 95, 94];
const DIM = 90;

/** Colours only for a terminal, and never when NO_COLOR is set (no-color.org). */
export function useColour(stream: NodeJS.WriteStream, env: NodeJS.ProcessEnv = process.env): boolean {
  if (env.NO_COLOR) return false;
  if (env.FORCE_COLOR && env.FORCE_COLOR !== "0") return true;
  // Typed boolean, but undefined (not false) on a pipe or file.
  return (stream.isTTY as boolean | undefined) === true;
}

/** `name` padded to `width`, then ` | `, then the text. */
export function formatLine(source: string, text: string, width: number, colour?: number): string {
  const prefix = `${source.padEnd(width)} |`;
  return colour === undefined ? `${prefix} ${text}` : `\x1b[${colour}m${prefix}\x1b[0m ${text}`;
}

/**
 * A sink writing prefixed lines to this process's stdout/stderr. `sources`
 * fixes the prefix width and gives each service a stable colour; infra
 * processes (postgres, nats) are dimmed, the launcher's own lines bold.
 */
export function consoleSink(sources: readonly string[], infra: readonly string[] = []): LogSink {
  const width = Math.max(LAUNCHER.length, ...sources.map((s) => s.length), ...infra.map((s) => s.length));
  const colours = new Map<string, number>();
  sources.forEach((source, i) => colours.set(source, PALETTE[i % PALETTE.length]));
  for (const source of infra) colours.set(source, DIM);
  const colourFor = { stdout: useColour(process.stdout), stderr: useColour(process.stderr) };
  return {
    line(source, text, stream = "stdout") {
      const out = stream === "stderr" ? process.stderr : process.stdout;
      const colour = colourFor[stream] ? (source === LAUNCHER ? 1 : (colours.get(source) ?? DIM)) : undefined;
      out.write(formatLine(source, text, width, colour) + "\n");
    },
  };
}

/** Forwards every line of `readable` to the sink (a trailing partial line too). */
export function pipeLines(
  readable: Readable,
  source: string,
  stream: StreamName,
  sink: LogSink,
  onLine?: (line: string) => void,
): void {
  const lines = createInterface({ input: readable, crlfDelay: Infinity });
  lines.on("line", (line) => {
    sink.line(source, line, stream);
    onLine?.(line);
  });
}

/** Keeps the last `size` lines, to quote when a process fails to start. */
export class Tail {
  readonly #lines: string[] = [];
  constructor(readonly size = 20) {}
  push(line: string): void {
    this.#lines.push(line);
    if (this.#lines.length > this.size) this.#lines.shift();
  }
  toString(): string {
    return this.#lines.join("\n");
  }
  lines(): string[] {
    return [...this.#lines];
  }
}
