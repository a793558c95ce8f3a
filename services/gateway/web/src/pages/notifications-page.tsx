// The user's notifications: the stored ones (ListNotifications) with the ones
// that arrived live on top.
import type { Notification } from "@shop/gen/shop/notification/v1/notification_pb";
import { useEffect } from "preact/hooks";
import { storefront } from "../api.ts";
import { CallStatus } from "../components/call-status.tsx";
import { Link } from "../components/link.tsx";
import { formatDateTime, orderNumber } from "../format.ts";
import { liveNotifications, markAllRead } from "../live-notifications.ts";
import { notificationTitle } from "../messages.ts";
import { usePageTitle } from "../page-title.ts";
import { session } from "../session.ts";
import { useStore } from "../store.ts";
import { useCall } from "../use-call.ts";
import { SignInFirst } from "./sign-in-first.tsx";

export function NotificationsPage() {
  const signedIn = useStore(session);
  const live = useStore(liveNotifications);
  const [page, retry] = useCall(
    async (signal) => (signedIn ? storefront.listNotifications({ pageSize: 50 }, { signal }) : undefined),
    [signedIn?.user.id],
  );
  useEffect(() => {
    markAllRead();
  }, [live.unread]);
  usePageTitle("Notifications");
  if (!signedIn) return <SignInFirst title="Notifications" next="/notifications" />;
  const stored = page.status === "done" && page.value ? page.value.notifications : [];
  const all: Notification[] = [...live.received, ...stored.filter((n) => !live.received.some((l) => l.id === n.id))];
  return (
    <section aria-labelledby="notifications-title">
      <h1 id="notifications-title">Notifications</h1>
      <CallStatus state={page} retry={retry} what="notifications" />
      {page.status === "done" && all.length === 0 && <p>Nothing yet.</p>}
      <ul class="notifications" aria-label="Notifications">
        {all.map((n) => (
          <li key={n.id}>
            <h2>{notificationTitle(n.kind, orderNumber(n.orderId))}</h2>
            <p>{n.body}</p>
            <p class="muted">
              {formatDateTime(n.createdAt)}
              {n.orderId && (
                <>
                  {" · "}
                  <Link href={`/orders/${n.orderId}`}>
                    View order<span class="visually-hidden"> {orderNumber(n.orderId)}</span>
                  </Link>
                </>
              )}
            </p>
          </li>
        ))}
      </ul>
    </section>
  );
}
