// Keeps a server stream open: reconnects with backoff when it fails, when
// the server ends it early (a gateway draining for a deploy), or when it goes
// silent for longer than the server's heartbeats allow (a connection a proxy
// or a sleeping laptop dropped without telling anyone), and stops for good on
// an error that retrying cannot fix.
import { isRetryable } from "../errors.ts";

export interface StreamHandlers<T> {
  onMessage(message: T): void;
  /** A connection attempt starts (false) or its first message arrived (true). */
  onConnected?(connected: boolean): void;
  /** True once the stream has nothing more to say (e.g. the order is terminal). */
  isDone?(): boolean;
  /** A non-retryable error (NotFound, Unauthenticated...): following stops. */
  onFatal?(error: unknown): void;
}

export interface FollowOptions {
  /** Reconnect when nothing, not even a heartbeat, arrived for this long. */
  idleTimeoutMs?: number;
}

const FIRST_DELAY_MS = 500;
const MAX_DELAY_MS = 10_000;
/** Servers send a heartbeat every 20 s by default (STREAM_HEARTBEAT_MS). */
const DEFAULT_IDLE_TIMEOUT_MS = 50_000;

export async function followStream<T>(
  open: (signal: AbortSignal) => AsyncIterable<T>,
  handlers: StreamHandlers<T>,
  signal: AbortSignal,
  options: FollowOptions = {},
): Promise<void> {
  const idleTimeoutMs = options.idleTimeoutMs ?? DEFAULT_IDLE_TIMEOUT_MS;
  // A function, not the property: the signal aborts while this awaits.
  const stopped = () => signal.aborted;
  let delay = FIRST_DELAY_MS;
  while (!signal.aborted) {
    const attempt = new AbortController();
    const stopAttempt = () => {
      attempt.abort();
    };
    signal.addEventListener("abort", stopAttempt, { once: true });
    let idle: ReturnType<typeof setTimeout> | undefined;
    const watchIdle = () => {
      clearTimeout(idle);
      idle = setTimeout(stopAttempt, idleTimeoutMs);
    };
    try {
      handlers.onConnected?.(false);
      watchIdle();
      let first = true;
      for await (const message of open(attempt.signal)) {
        watchIdle();
        delay = FIRST_DELAY_MS;
        if (first) handlers.onConnected?.(true);
        first = false;
        handlers.onMessage(message);
      }
      if (handlers.isDone?.()) return;
    } catch (error) {
      if (stopped()) return;
      // An attempt we cut for silence is retried like a dropped connection.
      if (!attempt.signal.aborted && !isRetryable(error)) {
        handlers.onFatal?.(error);
        return;
      }
    } finally {
      clearTimeout(idle);
      signal.removeEventListener("abort", stopAttempt);
    }
    if (stopped()) return;
    await new Promise<void>((resolve) => {
      const timer = setTimeout(resolve, delay);
      signal.addEventListener(
        "abort",
        () => {
          clearTimeout(timer);
          resolve();
        },
        { once: true },
      );
    });
    delay = Math.min(delay * 2, MAX_DELAY_MS);
  }
}
