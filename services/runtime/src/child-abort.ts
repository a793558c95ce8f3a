// An AbortController that also aborts when `parent` does, with its reason:
// for a call a handler starts alongside another and may abandon once the
// other's answer decides the outcome, while the caller's own cancellation or
// deadline still reaches it. One listener, removed by release(), rather than
// AbortSignal.any's per-signal bookkeeping (these run on every call).

export interface ChildAbort {
  readonly signal: AbortSignal;
  abort(reason?: unknown): void;
  /** Stops following the parent (the call is over). */
  release(): void;
}

export function childAbort(parent: AbortSignal): ChildAbort {
  const controller = new AbortController();
  const abort = (reason?: unknown) => controller.abort(reason);
  if (parent.aborted) {
    controller.abort(parent.reason);
    return { signal: controller.signal, abort, release: () => undefined };
  }
  const follow = () => controller.abort(parent.reason);
  parent.addEventListener("abort", follow, { once: true });
  return { signal: controller.signal, abort, release: () => parent.removeEventListener("abort", follow) };
}

/**
 * Starts `side` at once, on a child of `parent`, and runs `main` with its
 * (pending) answer: for two downstream calls where neither needs the other's
 * answer but `main`'s failure decides. If `main` fails, that failure is
 * returned at once and `side` is abandoned (aborted), not waited for.
 */
export async function alongside<S, T>(
  parent: AbortSignal,
  side: (signal: AbortSignal) => Promise<S>,
  main: (side: Promise<S>) => Promise<T>,
): Promise<T> {
  const child = childAbort(parent);
  const started = side(child.signal);
  started.catch(() => undefined); // main awaits it unless main fails first
  try {
    return await main(started);
  } catch (err) {
    child.abort();
    throw err;
  } finally {
    child.release();
  }
}
