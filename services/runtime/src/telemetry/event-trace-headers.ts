// Every event enqueued in the outbox remembers the trace context it was
// enqueued in (the RPC or the event handler that caused it) in the outbox
// row's headers; the relay's publish span becomes its child and the consumer's
// process span the publish span's child, so a saga's asynchronous steps stay
// in the trace of the request that started it.
import { context } from "@opentelemetry/api";
import { addEventHeaderProvider } from "../events/outbox.ts";
import { traceHeadersOf } from "./trace-context.ts";

let installed = false;

/** Registers the header provider once per process (it reads whatever context is active). */
export function installEventTraceHeaders(): void {
  if (installed) return;
  installed = true;
  addEventHeaderProvider(() => traceHeadersOf(context.active()));
}
