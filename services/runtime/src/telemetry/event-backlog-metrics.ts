// Gauges sampled when Prometheus scrapes: how far behind the outbox relay and
// the consumers are, and how many dead letters wait for an operator.
//
//   shop_outbox_unpublished_events              rows not yet published
//   shop_outbox_oldest_unpublished_age_seconds  age of the oldest of them (0 if none)
//   shop_consumer_pending_messages{consumer}    JetStream num_pending: not yet delivered
//   shop_consumer_ack_pending_messages{consumer} delivered, not yet acked
//   shop_dead_letters{consumer}                 parked and not replayed since
//
// Each is read from the source of truth (the service's database, JetStream's
// consumer info) rather than counted in memory, so every replica reports the
// same numbers and a restart loses nothing (aggregate replicas with max, not sum).
import type { Meter } from "@opentelemetry/api";
import { isNull, sql } from "drizzle-orm";
import type { Database } from "../db/database.ts";
import { deadLetters, outbox } from "../db/schema.ts";
import type { EventBus } from "../events/bus.ts";
import type { Logger } from "../log.ts";

export interface JetStreamConsumerRef {
  stream: string;
  name: string;
}

export function outboxBacklogMetrics(meter: Meter, db: Database, logger: Logger): void {
  const unpublished = meter.createObservableGauge("shop.outbox.unpublished_events", {
    description: "Outbox rows not yet published to JetStream",
  });
  const oldestAge = meter.createObservableGauge("shop.outbox.oldest_unpublished_age.seconds", {
    description: "Age of the oldest unpublished outbox row (0 when there is none)",
    unit: "s",
  });
  meter.addBatchObservableCallback(
    async (result) => {
      try {
        // Served by the partial index outbox_unpublished_idx: only unsent rows.
        const rows = await db
          .select({
            n: sql<number>`count(*)::int`,
            age: sql<number | null>`extract(epoch from (now() - min(${outbox.createdAt})))::float8`,
          })
          .from(outbox)
          .where(isNull(outbox.publishedAt));
        const row = rows.at(0);
        result.observe(unpublished, row?.n ?? 0);
        result.observe(oldestAge, Math.max(0, row?.age ?? 0));
      } catch (err) {
        logger.warn({ err }, "cannot sample the outbox backlog");
      }
    },
    [unpublished, oldestAge],
  );
}

export function consumerBacklogMetrics(
  meter: Meter,
  options: {
    db: Database;
    bus: EventBus;
    consumers: readonly JetStreamConsumerRef[];
    logger: Logger;
  },
): void {
  const { db, bus, consumers, logger } = options;
  const pending = meter.createObservableGauge("shop.consumer.pending_messages", {
    description: "Messages on the consumer's stream not yet delivered to it (JetStream num_pending)",
  });
  const ackPending = meter.createObservableGauge("shop.consumer.ack_pending_messages", {
    description: "Messages delivered to the consumer and not yet acknowledged",
  });
  const parked = meter.createObservableGauge("shop.dead_letters", {
    description: "Dead letters not replayed since they were parked, per consumer",
  });

  meter.addBatchObservableCallback(
    async (result) => {
      await Promise.all(
        consumers.map(async ({ stream, name }) => {
          try {
            const info = await bus.jsm.consumers.info(stream, name);
            result.observe(pending, info.num_pending, { consumer: name });
            result.observe(ackPending, info.num_ack_pending, { consumer: name });
          } catch (err) {
            logger.warn({ err, consumer: name }, "cannot sample the consumer's backlog");
          }
        }),
      );
    },
    [pending, ackPending],
  );

  meter.addBatchObservableCallback(
    async (result) => {
      try {
        const rows = await db
          .select({ consumer: deadLetters.consumer, n: sql<number>`count(*)::int` })
          .from(deadLetters)
          .where(isNull(deadLetters.replayedAt))
          .groupBy(deadLetters.consumer);
        const counts = new Map(rows.map((r) => [r.consumer, r.n]));
        // Every consumer reports, zero included, so "no dead letters" is a value, not an absence.
        for (const { name } of consumers) result.observe(parked, counts.get(name) ?? 0, { consumer: name });
        for (const [consumer, n] of counts)
          if (!consumers.some((c) => c.name === consumer)) result.observe(parked, n, { consumer });
      } catch (err) {
        logger.warn({ err }, "cannot count dead letters");
      }
    },
    [parked],
  );
}
