import type { ComponentChildren } from "preact";
import { describeError, isNotFound, isRetryable } from "../errors.ts";
import type { CallContext } from "../messages.ts";
import type { CallState } from "../use-call.ts";

/**
 * Loading and failure of a page's main call; nothing once it is done.
 * "Try again" only where trying again can help; `orElse` (a way back) for
 * everything else, such as something that does not exist.
 */
export function CallStatus({
  state,
  retry,
  what,
  context,
  orElse,
}: {
  state: CallState<unknown>;
  retry: () => void;
  what: string;
  context?: CallContext;
  orElse?: ComponentChildren;
}) {
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
        <p>{describeError(state.error, context)}</p>
        {isRetryable(state.error) && !isNotFound(state.error) && (
          <button type="button" onClick={retry}>
            Try again
          </button>
        )}
        {orElse}
      </div>
    );
  }
  return null;
}
