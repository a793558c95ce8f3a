// The order deployable: orders and the saga that takes each one to exactly
// one terminal state (see manifest.ts and saga.ts).
import { OrderService } from "@shop/gen/shop/order/v1/order_pb";
import { implement } from "@shop/runtime/server";
import type { ServiceDefinition } from "@shop/runtime/service";
import { jwksAuthenticator } from "@shop/runtime/tokens";
import { manifest } from "./manifest.ts";
import { OrderAdmission } from "./order-admission.ts";
import { OrderChangeFeed } from "./order-change-feed.ts";
import { recordOrderOutcomes } from "./order-metrics.ts";
import { orderService } from "./order-service.ts";
import { sagaSubscription } from "./saga-consumer.ts";
import * as schema from "./schema.ts";
import { loadOrderSettings } from "./settings.ts";
import { TimeoutSweeper } from "./timeout-sweeper.ts";

export const definition = {
  manifest,
  schema,
  migrations: new URL("../drizzle", import.meta.url),
  async setup({ db, outbox, clients, logger, telemetry, onStop, env, tokenSettings }) {
    const settings = loadOrderSettings(env);
    const timeouts = { pendingTimeoutMs: settings.pendingTimeoutMs, paymentTimeoutMs: settings.paymentTimeoutMs };
    recordOrderOutcomes(telemetry);
    const feed = new OrderChangeFeed(db.$client);
    await feed.start();
    onStop(() => feed.stop());
    return {
      services: [
        implement(
          OrderService,
          orderService({
            db,
            outbox,
            timeouts,
            identity: clients.identity,
            catalog: clients.catalog,
            feed,
            pollIntervalMs: settings.watchPollMs,
            admission: new OrderAdmission(db, settings.admission),
          }),
        ),
      ],
      subscriptions: [sagaSubscription({ outbox, timeouts })],
      authenticate: jwksAuthenticator(clients.identity, tokenSettings),
      background: [
        new TimeoutSweeper({ db, deps: { outbox, timeouts }, intervalMs: settings.sweepIntervalMs, logger }),
      ],
    };
  },
} satisfies ServiceDefinition<typeof manifest, typeof schema>;
