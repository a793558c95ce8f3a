/**
 * A problem the user can fix (bad variable, busy port, missing binary), so
 * the launcher prints its message alone, without a stack trace.
 */
export class LaunchError extends Error {
  override name = "LaunchError";
}
