// The consumer's side of every event: a CONSUMER span per delivery, child of
// the relay's publish span (traceparent from the NATS headers), in which the
// inbox transaction and the handler run, so whatever the handler enqueues or
// calls continues the same trace; and the consumer metrics: outcomes
// (processed / duplicate / retry / dead-lettered), redeliveries, dead letters
// and processing time.
import { context, SpanKind, SpanStatusCode, trace } from "@opentelemetry/api";
import type { EventConsumerOptions, EventMeta, Outcome } from "../events/consumer.ts";
import {
  ATTR_MESSAGING_CONSUMER_GROUP_NAME,
  ATTR_MESSAGING_DESTINATION_NAME,
  ATTR_MESSAGING_MESSAGE_ID,
  ATTR_MESSAGING_OPERATION_NAME,
  ATTR_MESSAGING_OPERATION_TYPE,
  ATTR_MESSAGING_SYSTEM,
  ATTR_SHOP_EVENT_DELIVERY,
  ATTR_SHOP_EVENT_OUTCOME,
  ATTR_SHOP_EVENT_TYPE,
  MESSAGING_SYSTEM_NATS,
} from "./semconv.ts";
import type { ServiceTelemetry } from "./service-telemetry.ts";
import { contextFromEventHeaders } from "./trace-context.ts";

const PROCESS_DURATION_BUCKETS = [0.005, 0.01, 0.025, 0.05, 0.075, 0.1, 0.25, 0.5, 0.75, 1, 2.5, 5, 7.5, 10];

export function eventProcessTelemetry(
  telemetry: ServiceTelemetry,
): Required<Pick<EventConsumerOptions<Record<string, unknown>>, "around" | "beforeAck">> {
  const { meter, tracer } = telemetry;
  const outcomes = meter.createCounter("shop.consumer.messages", {
    description: "Deliveries handled, by consumer and outcome (processed, duplicate, retry, dead-lettered)",
  });
  const redeliveries = meter.createCounter("shop.consumer.redeliveries", {
    description: "Deliveries that were not the message's first (after a retry, a crash or an ack timeout)",
  });
  const deadLettered = meter.createCounter("shop.consumer.dead_lettered", {
    description: "Events parked as dead letters since this process started",
  });
  const duration = meter.createHistogram("messaging.process.duration.seconds", {
    description: "Time to handle one delivery: inbox transaction and handler",
    unit: "s",
    advice: { explicitBucketBoundaries: PROCESS_DURATION_BUCKETS },
  });

  return {
    async around(meta: EventMeta, run: () => Promise<Outcome>): Promise<Outcome> {
      const started = performance.now();
      const parent = contextFromEventHeaders(meta.headers);
      const span = tracer.startSpan(
        `process ${meta.subject}`,
        {
          kind: SpanKind.CONSUMER,
          attributes: {
            [ATTR_MESSAGING_SYSTEM]: MESSAGING_SYSTEM_NATS,
            [ATTR_MESSAGING_DESTINATION_NAME]: meta.subject,
            [ATTR_MESSAGING_OPERATION_TYPE]: "process",
            [ATTR_MESSAGING_OPERATION_NAME]: "process",
            [ATTR_MESSAGING_MESSAGE_ID]: meta.eventId,
            [ATTR_MESSAGING_CONSUMER_GROUP_NAME]: meta.consumer,
            [ATTR_SHOP_EVENT_TYPE]: meta.eventType,
            [ATTR_SHOP_EVENT_DELIVERY]: meta.deliveryCount,
          },
        },
        parent,
      );
      let outcome: Outcome | undefined;
      try {
        outcome = await context.with(trace.setSpan(parent, span), run);
        return outcome;
      } finally {
        span.setAttribute(ATTR_SHOP_EVENT_OUTCOME, outcome ?? "failed");
        if (outcome !== "processed" && outcome !== "duplicate") {
          span.setStatus({ code: SpanStatusCode.ERROR, message: outcome ?? "failed" });
        }
        span.end();
        duration.record((performance.now() - started) / 1000, {
          [ATTR_MESSAGING_SYSTEM]: MESSAGING_SYSTEM_NATS,
          [ATTR_MESSAGING_CONSUMER_GROUP_NAME]: meta.consumer,
          [ATTR_SHOP_EVENT_OUTCOME]: outcome ?? "failed",
        });
      }
    },
    // After the commit (or the dead letter), before the ack: counts outcomes
    // that happened, not attempts that rolled back.
    beforeAck(meta: EventMeta, outcome: Outcome): void {
      outcomes.add(1, { consumer: meta.consumer, outcome });
      if (meta.deliveryCount > 1) redeliveries.add(1, { consumer: meta.consumer });
      if (outcome === "dead-lettered") deadLettered.add(1, { consumer: meta.consumer });
    },
  };
}
