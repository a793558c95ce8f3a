// The services' access-log lines (one per call, written when the call ends),
// read back from startSystem's `logs` sink: how a test sees whether the
// gateway's call reached a service behind it, and how that call ended.
// Needs LOG_LEVEL=info (the access log's level for calls that did not fail on
// the server's side).
import type { LogSink } from "../../../tests/observability/log-sink.ts";
import type { ServiceName } from "../../../tests/support/system.ts";

export interface AccessLogLine {
  service: string;
  rpc: { service: string; method: string; kind: string };
  /** Connect code in snake case, "ok" for success. */
  code: string;
}

/** Calls of `method` (e.g. "WatchOrder") that `service` has logged so far. */
export function accessLogLines(logs: LogSink, service: ServiceName, method: string): AccessLogLine[] {
  return logs
    .records()
    .filter((r) => r.msg === "rpc" && r.service === service)
    .map((r) => r as unknown as AccessLogLine)
    .filter((line) => line.rpc.method === method);
}
