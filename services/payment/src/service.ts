// The payment deployable: card tokens, charges through the simulated card
// processor on StockReserved, refunds on OrderCancelled (see manifest.ts).
import { StockReservedSchema } from "@shop/gen/shop/inventory/v1/events_pb";
import { OrderCancelledSchema } from "@shop/gen/shop/order/v1/events_pb";
import { PaymentService } from "@shop/gen/shop/payment/v1/payment_pb";
import { subscription } from "@shop/runtime/events/consumer";
import { implement } from "@shop/runtime/server";
import type { ServiceDefinition } from "@shop/runtime/service";
import { jwksAuthenticator } from "@shop/runtime/tokens";
import { CardProcessor } from "./card-processor.ts";
import { manifest } from "./manifest.ts";
import { OrderCancellation } from "./order-cancellation.ts";
import { OrderCharger } from "./order-charger.ts";
import { paymentService } from "./payment-service.ts";
import { PaymentTransitions } from "./payment-transitions.ts";
import { PendingPaymentRecovery } from "./pending-payment-recovery.ts";
import * as schema from "./schema.ts";
import { loadPaymentSettings } from "./settings.ts";

type Schema = typeof schema;

export const definition = {
  manifest,
  schema,
  migrations: new URL("../drizzle", import.meta.url),
  setup({ db, outbox, logger, clients, env, tokenSettings }) {
    const settings = loadPaymentSettings(env);
    const processor = new CardProcessor(db, { slowDelayMs: settings.PROCESSOR_SLOW_DELAY_MS });
    const transitions = new PaymentTransitions(outbox, processor);
    const charger = new OrderCharger(
      db,
      processor,
      transitions,
      { maxAttempts: settings.CHARGE_MAX_ATTEMPTS, firstDelayMs: settings.CHARGE_RETRY_DELAY_MS },
      logger,
    );
    const cancellation = new OrderCancellation(transitions, logger);
    const recovery = new PendingPaymentRecovery(
      db,
      charger,
      { staleAfterMs: settings.PENDING_RECOVERY_AFTER_MS, intervalMs: settings.PENDING_RECOVERY_INTERVAL_MS },
      logger,
    );
    return {
      services: [implement(PaymentService, paymentService(db))],
      subscriptions: [
        // A few charges at once, so one slow card does not hold up every
        // order. Each in-flight handler holds its inbox transaction's
        // connection and briefly needs a second one (open, processor), so
        // handlers in flight must stay well below the pool size (10).
        subscription<Schema, [typeof StockReservedSchema]>({
          durable: "payment",
          events: [StockReservedSchema],
          concurrency: 4,
          handle: (tx, event) => charger.onStockReserved(tx, event),
        }),
        subscription<Schema, [typeof OrderCancelledSchema]>({
          durable: "payment",
          events: [OrderCancelledSchema],
          concurrency: 2,
          handle: (tx, event) => cancellation.onOrderCancelled(tx, event),
        }),
      ],
      background: [recovery],
      authenticate: jwksAuthenticator(clients.identity, tokenSettings),
    };
  },
} satisfies ServiceDefinition<typeof manifest, Schema>;
