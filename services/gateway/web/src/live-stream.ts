// Keeps a server stream (WatchOrder, WatchNotifications) open: reconnects with
// backoff when it drops or the server ends it early (a gateway draining for a
// deploy), stops for good on an error that retrying cannot fix.
import { isRetryable } from "./errors.ts";

export interface StreamHandlers<T> {
  onMessage(message: T): void;
  /** Connected (a message arrived) or reconnecting. */
  onConnected?(connected: boolean): void;
  /** True once the stream has nothing more to say (e.g. the order is terminal). */
  isDone?(): boolean;
  /** A non-retryable error (NotFound, Unauthenticated...): following stops. */
  onFatal?(error: unknown): void;
}

const FIRST_DELAY_MS = 500;
const MAX_DELAY_MS = 10_000;

export async function followStream<T>(
  open: (signal: AbortSignal) => AsyncIterable<T>,
  handlers: StreamHandlers<T>,
  signal: AbortSignal,
): Promise<void> {
  let delay = FIRST_DELAY_MS;
  while (!signal.aborted) {
    try {
      for await (const message of open(signal)) {
        delay = FIRST_DELAY_MS;
        handlers.onConnected?.(true);
        handlers.onMessage(message);
      }
      if (handlers.isDone?.()) return;
    } catch (error) {
      if (signal.aborted) return;
      if (!isRetryable(error)) {
        handlers.onFatal?.(error);
        return;
      }
    }
    if (signal.aborted) return;
    handlers.onConnected?.(false);
    await new Promise<void>((resolve) => {
      const timer = setTimeout(resolve, delay);
      signal.addEventListener("abort", () => (clearTimeout(timer), resolve()), { once: true });
    });
    delay = Math.min(delay * 2, MAX_DELAY_MS);
  }
}
