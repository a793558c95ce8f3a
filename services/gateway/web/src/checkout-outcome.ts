// Keeps following a checkout in progress, from any page, until its outcome
// is known; the tab holding the live connection then settles the cart (a
// confirmed order's items leave it, a cancelled order's stay).
import { pendingCheckout, settleCheckout } from "./cart.ts";
import { liveUpdates } from "./live/live-updates.ts";
import { session } from "./session.ts";

export function followCheckoutOutcome(): void {
  let following: { orderId: string; stop: () => void } | undefined;
  const update = () => {
    const pending = pendingCheckout.get();
    const user = session.get()?.user.id;
    const orderId = pending && pending.userId === user ? pending.orderId : undefined;
    if (following?.orderId === orderId) return;
    following?.stop();
    following = orderId ? { orderId, stop: liveUpdates.followOrder(orderId, () => undefined) } : undefined;
  };
  pendingCheckout.subscribe(update);
  session.subscribe(update);
  update();
  liveUpdates.onAnyOrder((order) => {
    if (liveUpdates.leading) settleCheckout(order);
  });
}
