// One JSON logger per process, every line tagged with the service name so
// logs from all services can share one sink and still be told apart.
import { pino, type DestinationStream, type Logger } from "pino";

export type { Logger };

export interface LoggerOptions {
  /** Defaults to LOG_LEVEL, else "info". */
  level?: string;
  /** Defaults to stdout; tests pass a stream to read the lines back. */
  destination?: DestinationStream;
}

export function createLogger(service: string, options: LoggerOptions = {}): Logger {
  return pino(
    {
      level: options.level ?? process.env.LOG_LEVEL ?? "info",
      base: { service },
      timestamp: pino.stdTimeFunctions.isoTime,
      // "level":"info" rather than pino's numeric 30: log backends and humans
      // both read names.
      formatters: { level: (label) => ({ level: label }) },
    },
    options.destination,
  );
}
