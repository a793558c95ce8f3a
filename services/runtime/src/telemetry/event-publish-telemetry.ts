// The relay's side of every event: a PRODUCER span per published event,
// child of the span the event was enqueued in (its outbox row's traceparent),
// whose own context travels in the NATS message headers to the consumers;
// the sent-messages counter and the enqueue→publish delay; and the
// published-event listeners (domain metrics, see ServiceTelemetry).
import { SpanKind, SpanStatusCode, trace } from "@opentelemetry/api";
import type { OutboxEvent, PublishEvent } from "../events/relay.ts";
import {
  ATTR_ERROR_TYPE,
  ATTR_MESSAGING_DESTINATION_NAME,
  ATTR_MESSAGING_MESSAGE_BODY_SIZE,
  ATTR_MESSAGING_MESSAGE_ID,
  ATTR_MESSAGING_OPERATION_NAME,
  ATTR_MESSAGING_OPERATION_TYPE,
  ATTR_MESSAGING_SYSTEM,
  ATTR_SHOP_EVENT_TYPE,
  MESSAGING_SYSTEM_NATS,
} from "./semconv.ts";
import type { ServiceTelemetry } from "./service-telemetry.ts";
import { contextFromEventHeaders, traceHeadersOf } from "./trace-context.ts";

/** Seconds from enqueue to publish: the relay's wake-up latency, or a backlog. */
const PUBLISH_DELAY_BUCKETS = [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 300];

export function eventPublishTelemetry(telemetry: ServiceTelemetry) {
  const sent = telemetry.meter.createCounter("messaging.client.sent.messages", {
    description: "Events the outbox relay published to JetStream (error.type set when the publish failed)",
  });
  const delay = telemetry.meter.createHistogram("shop.outbox.publish_delay.seconds", {
    description: "Time from an event's enqueue (its transaction) to its publish",
    unit: "s",
    advice: { explicitBucketBoundaries: PUBLISH_DELAY_BUCKETS },
  });

  return async (event: OutboxEvent, publish: PublishEvent) => {
    const parent = contextFromEventHeaders(event.headers);
    const span = telemetry.tracer.startSpan(
      `publish ${event.subject}`,
      {
        kind: SpanKind.PRODUCER,
        attributes: {
          [ATTR_MESSAGING_SYSTEM]: MESSAGING_SYSTEM_NATS,
          [ATTR_MESSAGING_DESTINATION_NAME]: event.subject,
          // "send" is the conventions' operation type for publishing (it
          // replaced "publish"); the operation name keeps NATS' word.
          [ATTR_MESSAGING_OPERATION_TYPE]: "send",
          [ATTR_MESSAGING_OPERATION_NAME]: "publish",
          [ATTR_MESSAGING_MESSAGE_ID]: event.id,
          [ATTR_MESSAGING_MESSAGE_BODY_SIZE]: event.payload.byteLength,
          [ATTR_SHOP_EVENT_TYPE]: event.eventType,
        },
      },
      parent,
    );
    const base = { [ATTR_MESSAGING_SYSTEM]: MESSAGING_SYSTEM_NATS, [ATTR_MESSAGING_DESTINATION_NAME]: event.subject };
    try {
      const ack = await publish(traceHeadersOf(trace.setSpan(parent, span)));
      span.setAttribute("messaging.nats.stream_sequence", ack.seq);
      if (ack.duplicate) span.setAttribute("messaging.nats.duplicate", true);
      sent.add(1, base);
      delay.record(Math.max(0, (Date.now() - event.createdAt.getTime()) / 1000), base);
      telemetry.eventPublished(event);
      return ack;
    } catch (err) {
      const type = err instanceof Error ? err.name : "Error";
      span.setStatus({ code: SpanStatusCode.ERROR, message: type });
      span.setAttribute(ATTR_ERROR_TYPE, type);
      sent.add(1, { ...base, [ATTR_ERROR_TYPE]: type });
      throw err;
    } finally {
      span.end();
    }
  };
}
