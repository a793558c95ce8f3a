// Waiting in tests without fixed sleeps: poll a condition until it holds,
// with a bound, and say what was awaited when it never does.
import { inspect } from "node:util";

/**
 * Polls `check` until it returns something truthy (errors count as "not
 * yet"), or fails after `timeoutMs` naming `what` and the last error.
 */
export async function eventually<T>(
  what: string,
  check: () => Promise<T> | T,
  { timeoutMs = 30_000, intervalMs = 50 }: { timeoutMs?: number; intervalMs?: number } = {},
): Promise<NonNullable<T>> {
  const deadline = Date.now() + timeoutMs;
  let last: unknown;
  for (;;) {
    try {
      const value = await check();
      if (value) return value;
    } catch (err) {
      last = err;
    }
    if (Date.now() > deadline)
      throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}${last ? `: ${inspect(last)}` : ""}`);
    await new Promise((resolve) => setTimeout(resolve, intervalMs));
  }
}
