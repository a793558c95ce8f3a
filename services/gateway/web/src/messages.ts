// Everything the shop says to shoppers about what went wrong or what
// happened, in one catalogue: field errors keyed by the field's path and the
// protovalidate rule id the server reports (the rules live in the .proto),
// errors by Connect code, and the words for the saga's structured outcomes
// (timeline kinds, cancellation and payment failure reasons, notification
// kinds). The server's own message text is never shown: it is written for
// developers. Pure data and functions (no DOM), so tests can check the
// catalogue against the contract's rules.
import { Code } from "@connectrpc/connect";
import { NotificationKind } from "@shop/gen/shop/notification/v1/notification_pb";
import { CancellationReason, TimelineEventKind } from "@shop/gen/shop/order/v1/order_pb";
import { PaymentFailureReason } from "@shop/gen/shop/payment/v1/payment_pb";

/** Field path with list indexes blanked ("lines[3].quantity" -> "lines[].quantity"). */
export function fieldKey(path: string): string {
  return path.replace(/\[\d+\]/g, "[]");
}

/**
 * What to say for a violated rule, by field path, then rule id. Rule ids are
 * protovalidate's (string.min_len, int32.gte_lte...) or the ones a service
 * checks in code (card_number.luhn, password.policy...).
 */
export const FIELD_MESSAGES: Readonly<Partial<Record<string, Readonly<Partial<Record<string, string>>>>>> = {
  email: {
    "string.email": "Enter an email address like name@example.com.",
    "string.email_empty": "Enter your email address.",
    "string.min_len": "Enter your email address.",
    "string.max_len": "That email address is too long.",
    taken: "There is already an account with this email. Sign in instead, or use another email.",
  },
  password: {
    "string.min_len": "Use at least 10 characters for your password.",
    "string.max_len": "Use at most 128 characters for your password.",
    "password.policy": "Choose a password that is not your email address or one character repeated.",
  },
  display_name: {
    "string.min_len": "Enter your name.",
    "string.max_len": "Use at most 80 characters for your name.",
    "display_name.blank": "Enter your name.",
  },
  card_number: {
    "string.pattern": "Enter the 12 to 19 digits of your card number.",
    "card_number.luhn": "That card number is not valid. Check it for typing mistakes.",
  },
  exp_month: {
    "int32.gte_lte": "Choose the month the card expires.",
    "card.expired": "This card has expired. Use another card.",
  },
  exp_year: {
    "int32.gte_lte": "Choose the year the card expires.",
    "card.expired": "This card has expired. Use another card.",
  },
  cvc: {
    "string.pattern": "Enter the 3 or 4 digit security code from the back of your card.",
    "string.max_len": "Enter the 3 or 4 digit security code from the back of your card.",
  },
  cardholder_name: {
    "string.min_len": "Enter the name as it is printed on the card.",
    "string.max_len": "Use at most 100 characters for the name on the card.",
  },
  "shipping_address.name": {
    "string.min_len": "Enter the name of the person receiving the order.",
    "string.pattern": "Enter the name of the person receiving the order.",
    "string.max_len": "Use at most 100 characters for the name.",
  },
  "shipping_address.line1": {
    "string.min_len": "Enter the street and house number.",
    "string.pattern": "Enter the street and house number.",
    "string.max_len": "Use at most 200 characters for the street address.",
  },
  "shipping_address.line2": {
    "string.max_len": "Use at most 200 characters here.",
  },
  "shipping_address.city": {
    "string.min_len": "Enter the town or city.",
    "string.pattern": "Enter the town or city.",
    "string.max_len": "Use at most 100 characters for the town or city.",
  },
  "shipping_address.postal_code": {
    "string.pattern": "Enter the postcode as it is written locally (letters, digits, spaces and dashes).",
    "string.max_len": "Use at most 12 characters for the postcode.",
  },
  "shipping_address.region": {
    "string.max_len": "Use at most 100 characters for the region.",
  },
  "shipping_address.country_code": {
    "string.pattern": "Choose the country.",
    "string.max_len": "Choose the country.",
  },
  contact_email: {
    "string.email": "Enter an email address like name@example.com, or leave it empty to use your account's.",
    "string.max_len": "That email address is too long.",
  },
  "lines[].quantity": {
    "int32.gte_lte": "Order between 1 and 100 of each product.",
  },
};

/** Said for a rule the catalogue has no words for at this field. */
const RULE_FALLBACKS: Readonly<Partial<Record<string, string>>> = {
  required: "Fill this in.",
  "string.min_len": "Fill this in.",
  "string.max_len": "This is too long.",
  "string.pattern": "Check what you entered here.",
  "string.email": "Enter an email address like name@example.com.",
};
const FIELD_FALLBACK = "Check what you entered here.";

/** The message for a violated rule at a field. */
export function fieldMessage(path: string, ruleId: string): string {
  return FIELD_MESSAGES[fieldKey(path)]?.[ruleId] ?? RULE_FALLBACKS[ruleId] ?? FIELD_FALLBACK;
}

/** True when the catalogue has words of its own for this field and rule (tests use it). */
export function hasFieldMessage(path: string, ruleId: string): boolean {
  return FIELD_MESSAGES[fieldKey(path)]?.[ruleId] !== undefined;
}

/** Above every form with errors. */
export const FIX_FIELDS = "Please correct the highlighted fields.";

/** What a failed call means to a shopper, by code; `context` can say it better for some codes. */
export interface CallContext {
  /** Said for NotFound ("This product is not available any more."). */
  notFound?: string;
  /** Said for FailedPrecondition. */
  refused?: string;
  /** Seconds from a Retry-After header, for ResourceExhausted. */
  retryAfterSeconds?: number;
}

export function codeMessage(code: Code, context: CallContext = {}): string {
  switch (code) {
    case Code.Unavailable:
    case Code.Unknown:
    case Code.Canceled:
      return "The shop cannot be reached right now. Check your connection and try again.";
    case Code.DeadlineExceeded:
      return "The shop took too long to answer. Please try again.";
    case Code.Unauthenticated:
      return "Please sign in again.";
    case Code.PermissionDenied:
      return "This account cannot do that.";
    case Code.NotFound:
      return context.notFound ?? "We could not find that.";
    case Code.FailedPrecondition:
      return context.refused ?? "That is not possible any more. Reload the page to see the latest.";
    case Code.ResourceExhausted:
      return context.retryAfterSeconds
        ? `Too many attempts. Please wait ${waitText(context.retryAfterSeconds)} and try again.`
        : "Too many attempts. Please wait a moment and try again.";
    case Code.InvalidArgument:
    case Code.OutOfRange:
      return "Please check what you entered.";
    case Code.AlreadyExists:
      return "That already exists.";
    default:
      return "Something went wrong on our side. Please try again.";
  }
}

function waitText(seconds: number): string {
  if (seconds < 90) return `${String(Math.max(1, Math.round(seconds)))} seconds`;
  return `${String(Math.round(seconds / 60))} minutes`;
}

/** Timeline entries in the shopper's words. */
export const TIMELINE_TEXT: Readonly<Record<TimelineEventKind, string>> = {
  [TimelineEventKind.UNSPECIFIED]: "Order updated",
  [TimelineEventKind.PLACED]: "Order placed",
  [TimelineEventKind.STOCK_RESERVED]: "Items reserved for you",
  [TimelineEventKind.STOCK_REJECTED]: "Some items were out of stock, so the order was cancelled",
  [TimelineEventKind.PAYMENT_CAPTURED]: "Payment received: order confirmed",
  [TimelineEventKind.PAYMENT_FAILED]: "Payment failed, so the order was cancelled",
  [TimelineEventKind.CANCELLED_BY_CUSTOMER]: "You cancelled the order",
  [TimelineEventKind.CANCELLED_BY_ADMIN]: "The shop cancelled the order",
  [TimelineEventKind.STOCK_TIMED_OUT]: "We could not reserve your items in time, so the order was cancelled",
  [TimelineEventKind.PAYMENT_TIMED_OUT]: "The payment did not go through in time, so the order was cancelled",
  [TimelineEventKind.STOCK_RELEASED]: "Reserved items released",
  [TimelineEventKind.STOCK_COMMITTED]: "Items set aside for shipping",
  [TimelineEventKind.PAYMENT_REFUNDED]: "Payment refunded",
  [TimelineEventKind.LATE_EVENT_IGNORED]: "",
};

/** Entries a shopper has no use for (a late saga step that changed nothing). */
export function isShownToShoppers(kind: TimelineEventKind): boolean {
  return TIMELINE_TEXT[kind] !== "";
}

const PAYMENT_FAILURE_TEXT: Readonly<Record<PaymentFailureReason, string>> = {
  [PaymentFailureReason.UNSPECIFIED]: "Your payment did not go through.",
  [PaymentFailureReason.CARD_DECLINED]: "Your card was declined.",
  [PaymentFailureReason.INSUFFICIENT_FUNDS]: "Your card was declined for insufficient funds.",
  [PaymentFailureReason.PROCESSOR_UNAVAILABLE]: "We could not reach the card processor.",
  [PaymentFailureReason.INVALID_CARD_TOKEN]: "The card details expired before the payment.",
};

/** Why an order was cancelled, in one or two sentences. */
export function cancellationMessage(reason: CancellationReason, paymentFailure: PaymentFailureReason): string {
  switch (reason) {
    case CancellationReason.PAYMENT_FAILED:
      return `${PAYMENT_FAILURE_TEXT[paymentFailure]} Nothing was charged.`;
    case CancellationReason.OUT_OF_STOCK:
      return "Some items sold out before we could reserve them. Nothing was charged.";
    case CancellationReason.CUSTOMER_REQUESTED:
      return "The order was cancelled. If you were charged, the payment is refunded.";
    case CancellationReason.TIMED_OUT:
      return "The order took too long to go through. If you were charged, the payment is refunded.";
    default:
      return "The order could not be completed.";
  }
}

/** What a shopper can do about a cancelled order, from the cart that is kept for them. */
export function retryAdvice(reason: CancellationReason, paymentFailure: PaymentFailureReason): string {
  if (reason === CancellationReason.PAYMENT_FAILED && paymentFailure !== PaymentFailureReason.PROCESSOR_UNAVAILABLE)
    return "Your cart still holds these items: you can pay with another card.";
  if (reason === CancellationReason.OUT_OF_STOCK) return "Your cart still holds these items: check what is in stock.";
  return "Your cart still holds these items: you can try again.";
}

/** Short toast titles for notifications, by kind (the notification's own body is the long text). */
export function notificationTitle(kind: NotificationKind, orderNumber: string): string {
  switch (kind) {
    case NotificationKind.WELCOME:
      return "Welcome to the shop";
    case NotificationKind.ORDER_CONFIRMED:
      return `Order ${orderNumber} confirmed`;
    case NotificationKind.ORDER_CANCELLED:
      return `Order ${orderNumber} cancelled`;
    case NotificationKind.PAYMENT_FAILED:
      return `Payment for order ${orderNumber} failed`;
    default:
      return "News about your account";
  }
}
