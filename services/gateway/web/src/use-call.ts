// Loading state for a call that depends on some inputs: re-runs when they
// change, ignores answers to outdated inputs, and cancels the call on unmount.
import { useEffect, useState } from "preact/hooks";

export type CallState<T> = { status: "loading" } | { status: "done"; value: T } | { status: "failed"; error: unknown };

export function useCall<T>(
  call: (signal: AbortSignal) => Promise<T>,
  inputs: readonly unknown[],
): [CallState<T>, () => void] {
  const [state, setState] = useState<CallState<T>>({ status: "loading" });
  const [attempt, setAttempt] = useState(0);
  useEffect(() => {
    const controller = new AbortController();
    setState({ status: "loading" });
    call(controller.signal).then(
      (value) => controller.signal.aborted || setState({ status: "done", value }),
      (error: unknown) => controller.signal.aborted || setState({ status: "failed", error }),
    );
    return () => controller.abort();
    // Re-run on the caller's inputs (not on `call`, a new closure every render).
  }, [...inputs, attempt]);
  return [state, () => setAttempt((n) => n + 1)];
}
