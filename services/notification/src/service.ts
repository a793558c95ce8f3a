// The notification deployable: one message per user-facing event, listed and
// watched by its recipient (see manifest.ts).
import { NotificationService } from "@shop/gen/shop/notification/v1/notification_pb";
import { implement } from "@shop/runtime/server";
import type { ServiceDefinition } from "@shop/runtime/service";
import { jwksAuthenticator } from "@shop/runtime/tokens";
import { manifest } from "./manifest.ts";
import { NotificationFeed } from "./notification-feed.ts";
import { notificationService } from "./notification-service.ts";
import { notificationSubscription } from "./notification-subscription.ts";
import * as schema from "./schema.ts";

export const definition = {
  manifest,
  schema,
  migrations: new URL("../drizzle", import.meta.url),
  async setup({ db, logger, onStop, clients, tokenSettings }) {
    // Listening before the server accepts its first WatchNotifications.
    const feed = new NotificationFeed({ db, logger });
    await feed.start();
    onStop(() => feed.stop());
    return {
      services: [implement(NotificationService, notificationService(db, feed))],
      subscriptions: [notificationSubscription(logger)],
      authenticate: jwksAuthenticator(clients.identity, tokenSettings),
    };
  },
} satisfies ServiceDefinition<typeof manifest, typeof schema>;
