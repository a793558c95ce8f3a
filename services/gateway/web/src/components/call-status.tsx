import { describeError } from "../errors.ts";
import type { CallState } from "../use-call.ts";

/** Loading and failure of a page's main call, with a retry; nothing once it is done. */
export function CallStatus({ state, retry, what }: { state: CallState<unknown>; retry: () => void; what: string }) {
  if (state.status === "loading") {
    return (
      <p class="loading" role="status">
        Loading {what}…
      </p>
    );
  }
  if (state.status === "failed") {
    return (
      <div class="error-panel" role="alert">
        <p>{describeError(state.error)}</p>
        <button type="button" onClick={retry}>
          Try again
        </button>
      </div>
    );
  }
  return null;
}
