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
