// The saga state machine on its own: every transition, and every input that
// does not apply to the status it meets.
import { describe, expect, it } from "vitest";
import { StockRejectionReason } from "@shop/gen/shop/inventory/v1/events_pb";
import { CancellationReason, OrderStatus, TimelineEventKind } from "@shop/gen/shop/order/v1/order_pb";
import { PaymentFailureReason } from "@shop/gen/shop/payment/v1/payment_pb";
import { decide, isTerminal, waitingFor, type SagaInput, type SagaOrder, type Transition } from "../src/saga.ts";

const lines = [
  { productId: "p-mug", productName: "Red Mug", quantity: 3 },
  { productId: "p-cup", productName: "Blue Cup", quantity: 1 },
];
const order = (status: OrderStatus): SagaOrder => ({ status, lines });

const { PENDING, AWAITING_PAYMENT, CONFIRMED, CANCELLED } = OrderStatus;
const ALL = [PENDING, AWAITING_PAYMENT, CONFIRMED, CANCELLED];

const inputs = {
  stockReserved: { type: "StockReserved" },
  stockRejected: {
    type: "StockRejected",
    reason: StockRejectionReason.INSUFFICIENT_STOCK,
    unavailable: [{ productId: "p-mug", available: 1n }],
  },
  stockReleased: { type: "StockReleased" },
  stockCommitted: { type: "StockCommitted" },
  paymentCaptured: { type: "PaymentCaptured" },
  paymentFailed: { type: "PaymentFailed", reason: PaymentFailureReason.CARD_DECLINED },
  paymentRefunded: { type: "PaymentRefunded" },
  deadlinePassed: { type: "DeadlinePassed" },
  customerCancels: { type: "CancelRequested", by: "customer" },
  adminCancels: { type: "CancelRequested", by: "admin" },
} satisfies Record<string, SagaInput>;

function cancelled(
  event: TimelineEventKind,
  reason: CancellationReason,
  detail: string,
  paymentFailure?: PaymentFailureReason,
): Transition {
  return {
    kind: "advance",
    status: CANCELLED,
    event,
    description: `cancelled: ${detail}`,
    cancellation: { reason, detail, ...(paymentFailure !== undefined && { paymentFailure }) },
    emit: [{ type: "OrderCancelled", reason, detail }],
  };
}

describe("saga transitions", () => {
  it("PENDING --StockReserved--> AWAITING_PAYMENT, emitting nothing", () => {
    expect(decide(order(PENDING), inputs.stockReserved)).toEqual({
      kind: "advance",
      status: AWAITING_PAYMENT,
      event: TimelineEventKind.STOCK_RESERVED,
      description: "stock reserved; waiting for payment",
      emit: [],
    });
  });

  it("PENDING --StockRejected--> CANCELLED (OUT_OF_STOCK) naming what is missing", () => {
    expect(decide(order(PENDING), inputs.stockRejected)).toEqual(
      cancelled(
        TimelineEventKind.STOCK_REJECTED,
        CancellationReason.OUT_OF_STOCK,
        "not enough stock: Red Mug (3 ordered, 1 available)",
      ),
    );
  });

  it("names products it does not know by id, and says when products were never stocked", () => {
    const t = decide(order(PENDING), {
      type: "StockRejected",
      reason: StockRejectionReason.UNKNOWN_PRODUCT,
      unavailable: [
        { productId: "p-cup", available: 0n },
        { productId: "p-other", available: 0n },
      ],
    });
    expect(t.kind === "advance" && t.cancellation?.detail).toBe(
      "not stocked: Blue Cup (1 ordered, 0 available), p-other (0 available)",
    );
  });

  it("AWAITING_PAYMENT --PaymentCaptured--> CONFIRMED + OrderConfirmed", () => {
    expect(decide(order(AWAITING_PAYMENT), inputs.paymentCaptured)).toEqual({
      kind: "advance",
      status: CONFIRMED,
      event: TimelineEventKind.PAYMENT_CAPTURED,
      description: "payment captured; order confirmed",
      emit: [{ type: "OrderConfirmed" }],
    });
  });

  it.each([
    [PaymentFailureReason.CARD_DECLINED, "card declined"],
    [PaymentFailureReason.INSUFFICIENT_FUNDS, "insufficient funds"],
    [PaymentFailureReason.PROCESSOR_UNAVAILABLE, "payment processor unavailable"],
    [PaymentFailureReason.INVALID_CARD_TOKEN, "invalid or expired card token"],
    [PaymentFailureReason.UNSPECIFIED, "payment failed"],
  ])("AWAITING_PAYMENT --PaymentFailed(%s)--> CANCELLED (PAYMENT_FAILED, %j) + OrderCancelled", (reason, detail) => {
    expect(decide(order(AWAITING_PAYMENT), { type: "PaymentFailed", reason })).toEqual(
      cancelled(TimelineEventKind.PAYMENT_FAILED, CancellationReason.PAYMENT_FAILED, detail, reason),
    );
  });

  it("a payment outcome that overtook the reservation is applied from PENDING (payment charges only reserved orders)", () => {
    expect(decide(order(PENDING), inputs.paymentCaptured)).toEqual(
      decide(order(AWAITING_PAYMENT), inputs.paymentCaptured),
    );
    expect(decide(order(PENDING), inputs.paymentFailed)).toEqual(decide(order(AWAITING_PAYMENT), inputs.paymentFailed));
  });

  it("the deadline of each waiting state cancels with TIMED_OUT", () => {
    expect(decide(order(PENDING), inputs.deadlinePassed)).toEqual(
      cancelled(TimelineEventKind.STOCK_TIMED_OUT, CancellationReason.TIMED_OUT, "stock was not reserved in time"),
    );
    expect(decide(order(AWAITING_PAYMENT), inputs.deadlinePassed)).toEqual(
      cancelled(TimelineEventKind.PAYMENT_TIMED_OUT, CancellationReason.TIMED_OUT, "payment was not completed in time"),
    );
  });

  it.each([PENDING, AWAITING_PAYMENT])(
    "a cancel request cancels a %s order (CUSTOMER_REQUESTED), saying who asked",
    (status) => {
      expect(decide(order(status), inputs.customerCancels)).toEqual(
        cancelled(
          TimelineEventKind.CANCELLED_BY_CUSTOMER,
          CancellationReason.CUSTOMER_REQUESTED,
          "cancelled by the customer",
        ),
      );
      expect(decide(order(status), inputs.adminCancels)).toEqual(
        cancelled(
          TimelineEventKind.CANCELLED_BY_ADMIN,
          CancellationReason.CUSTOMER_REQUESTED,
          "cancelled by an administrator",
        ),
      );
    },
  );

  it("cancelling a CANCELLED order changes nothing; a CONFIRMED one is refused", () => {
    expect(decide(order(CANCELLED), inputs.customerCancels)).toEqual({ kind: "unchanged" });
    expect(decide(order(CONFIRMED), inputs.customerCancels)).toEqual({
      kind: "refused",
      message: "the order is CONFIRMED and can no longer be cancelled",
    });
  });

  it("a deadline in a terminal state changes nothing (the sweeper lost a race)", () => {
    expect(decide(order(CONFIRMED), inputs.deadlinePassed)).toEqual({ kind: "unchanged" });
    expect(decide(order(CANCELLED), inputs.deadlinePassed)).toEqual({ kind: "unchanged" });
  });

  it.each(ALL)("StockReleased, StockCommitted and PaymentRefunded only add a timeline entry (%s)", (status) => {
    expect(decide(order(status), inputs.stockReleased)).toEqual({
      kind: "note",
      event: TimelineEventKind.STOCK_RELEASED,
      description: "reserved stock released",
    });
    expect(decide(order(status), inputs.stockCommitted)).toEqual({
      kind: "note",
      event: TimelineEventKind.STOCK_COMMITTED,
      description: "reserved stock committed",
    });
    expect(decide(order(status), inputs.paymentRefunded)).toEqual({
      kind: "note",
      event: TimelineEventKind.PAYMENT_REFUNDED,
      description: "payment refunded",
    });
  });
});

describe("events that do not apply to the status are noted and change nothing", () => {
  const cases: [OrderStatus, keyof typeof inputs, string][] = [
    [AWAITING_PAYMENT, "stockReserved", "ignored stock reservation: the order is already AWAITING_PAYMENT"],
    [AWAITING_PAYMENT, "stockRejected", "ignored stock rejection: the order is already AWAITING_PAYMENT"],
    [CONFIRMED, "stockReserved", "ignored stock reservation: the order is already CONFIRMED"],
    [CONFIRMED, "stockRejected", "ignored stock rejection: the order is already CONFIRMED"],
    [CONFIRMED, "paymentCaptured", "ignored payment capture: the order is already CONFIRMED"],
    [CONFIRMED, "paymentFailed", "ignored payment failure: the order is already CONFIRMED"],
    [
      CANCELLED,
      "stockReserved",
      "ignored stock reservation: the order is already CANCELLED; inventory releases it on the cancellation",
    ],
    [CANCELLED, "stockRejected", "ignored stock rejection: the order is already CANCELLED"],
    [
      CANCELLED,
      "paymentCaptured",
      "ignored payment capture: the order is already CANCELLED; the payment service refunds it on the cancellation",
    ],
    [CANCELLED, "paymentFailed", "ignored payment failure: the order is already CANCELLED"],
  ];
  it.each(cases)("%s + %s", (status, input, description) => {
    expect(decide(order(status), inputs[input])).toEqual({
      kind: "note",
      event: TimelineEventKind.LATE_EVENT_IGNORED,
      description,
    });
  });

  it("no input ever moves a terminal order or emits an event from it", () => {
    for (const status of [CONFIRMED, CANCELLED]) {
      for (const input of Object.values(inputs)) {
        const t = decide(order(status), input);
        expect(t.kind, `${OrderStatus[status]} + ${input.type}`).not.toBe("advance");
      }
    }
  });
});

describe("waiting states", () => {
  it("PENDING waits for stock, AWAITING_PAYMENT for payment, terminal states for nothing", () => {
    expect(ALL.map(waitingFor)).toEqual(["stock", "payment", null, null]);
    expect(ALL.map(isTerminal)).toEqual([false, false, true, true]);
  });
});
