// How the shop writes order numbers and times, the same on every page, in
// toasts and in the notifications the server writes.
import { timestampDate, type Timestamp } from "@bufbuild/protobuf/wkt";

/** The order number shoppers see: the id's last 8 hex digits, upper-case (see Order.id in order.proto). */
export function orderNumber(orderId: string): string {
  return orderId.replaceAll("-", "").slice(-8).toUpperCase();
}

const dateTime = new Intl.DateTimeFormat("en-GB", { dateStyle: "medium", timeStyle: "short" });
const time = new Intl.DateTimeFormat("en-GB", { timeStyle: "medium" });

/** "3 Dec 2026, 14:05" */
export function formatDateTime(at: Timestamp | undefined): string {
  return at ? dateTime.format(timestampDate(at)) : "";
}

/** "14:05:09", for timelines within one order. */
export function formatTime(at: Timestamp | undefined): string {
  return at ? time.format(timestampDate(at)) : "";
}

/** ISO 8601, for <time dateTime>. */
export function isoTime(at: Timestamp | undefined): string | undefined {
  return at ? timestampDate(at).toISOString() : undefined;
}
