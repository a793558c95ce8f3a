// What the runtime says about an RPC's status code, in one place: its names
// (from @connectrpc/connect's own codeToString, the Connect protocol's
// spelling) and whether it is the server's fault.
import { Code, ConnectError } from "@connectrpc/connect";
import { codeToString } from "@connectrpc/connect/protocol-connect";

/** "not_found", as the Connect protocol names codes. */
export function connectCodeName(code: Code): string {
  return codeToString(code);
}

/** "NOT_FOUND", as gRPC names codes (0 is "OK"). */
export function grpcCodeName(code: Code | 0): string {
  return code === 0 ? "OK" : codeToString(code).toUpperCase();
}

/**
 * Codes that say the server failed rather than the caller: OpenTelemetry's
 * RPC conventions mark a server span as an error for exactly these, and the
 * access log writes them at warn. Everything else (InvalidArgument, NotFound,
 * PermissionDenied, ...) is an answer the server meant to give.
 */
const SERVER_FAULTS: ReadonlySet<Code | 0> = new Set([
  Code.Unknown,
  Code.DeadlineExceeded,
  Code.Unimplemented,
  Code.Internal,
  Code.Unavailable,
  Code.DataLoss,
]);

export function isServerFault(code: Code | 0): boolean {
  return SERVER_FAULTS.has(code);
}

/** The code a call ended with: 0 (OK) for no error, else the error's (Unknown for anything not a ConnectError). */
export function codeOf(error: unknown): Code | 0 {
  return error === undefined ? 0 : ConnectError.from(error).code;
}
