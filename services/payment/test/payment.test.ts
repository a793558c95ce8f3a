// Payment's side of the order saga, driven the way the real system drives it:
// StockReserved and OrderCancelled published on JetStream, payment's consumers,
// simulated processor and outbox relay running in a real server with its own
// database; identity issues the customers' tokens.
import { timestampNow } from "@bufbuild/protobuf/wkt";
import { ViolationsSchema } from "@bufbuild/protovalidate/gen/buf/validate/validate_pb.js";
import { Code, ConnectError } from "@connectrpc/connect";
import { count, eq, isNull } from "drizzle-orm";
import { StockReservedSchema } from "@shop/gen/shop/inventory/v1/events_pb";
import { OrderCancelledSchema } from "@shop/gen/shop/order/v1/events_pb";
import { CancellationReason } from "@shop/gen/shop/order/v1/order_pb";
import { PaymentFailureReason, PaymentService, PaymentStatus } from "@shop/gen/shop/payment/v1/payment_pb";
import { closeDatabase, openDatabase, type Database } from "@shop/runtime/db/database";
import { outbox } from "@shop/runtime/db/schema";
import { EventBus } from "@shop/runtime/events/bus";
import { createOutbox } from "@shop/runtime/events/outbox";
import { createLogger } from "@shop/runtime/log";
import { v7 as uuidv7 } from "uuid";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import {
  bearer,
  eventually,
  NATS_URL,
  startSystem,
  type Account,
  type TestSystem,
} from "../../../tests/support/system.ts";
import { CardProcessor } from "../src/card-processor.ts";
import { OrderCharger } from "../src/order-charger.ts";
import { PaymentTransitions } from "../src/payment-transitions.ts";
import { PendingPaymentRecovery } from "../src/pending-payment-recovery.ts";
import * as schema from "../src/schema.ts";
import { eraseExpiredCardNumbers } from "../src/card-tokens.ts";
import { cardTokens, payments, processorCharges, type PaymentRow } from "../src/schema.ts";
import { paymentCaughtUp, PaymentEventLog, publishEvent } from "./payment-traffic.ts";

const MAX_ATTEMPTS = 4;
const SLOW_DELAY_MS = 2000;

const CARDS = {
  approved: "4242424242424242",
  declined: "4000000000000002",
  insufficientFunds: "4000000000009995",
  outage: "4000000000000119",
  outageThenApproved: "4000000000000259",
  slow: "4000000000003063",
  otherMastercard: "5555555555554444",
};

let system: TestSystem;
let bus: EventBus;
let log: PaymentEventLog;
let db: Database<typeof schema>;
let alice: Account;
let bob: Account;

beforeAll(async () => {
  system = await startSystem(["identity", "payment"], {
    env: {
      PROCESSOR_SLOW_DELAY_MS: String(SLOW_DELAY_MS),
      CHARGE_MAX_ATTEMPTS: String(MAX_ATTEMPTS),
      CHARGE_RETRY_DELAY_MS: "20",
    },
  });
  bus = await EventBus.connect({ servers: NATS_URL, naming: system.naming });
  log = await PaymentEventLog.open(bus);
  db = await openDatabase({ url: system.databaseUrl("payment"), schema, max: 2 });
  alice = await system.signUp("Alice");
  bob = await system.signUp("Bob");
});
afterAll(async () => {
  await log?.close();
  await bus?.close();
  if (db) await closeDatabase(db);
  await system?.stop();
});

const paymentsApi = () => system.client(PaymentService);
const nextYear = new Date().getUTCFullYear() + 1;

async function tokenize(account: Account, cardNumber: string): Promise<string> {
  const res = await paymentsApi().tokenizeCard(
    { cardNumber, expMonth: 12, expYear: nextYear, cvc: "123", cardholderName: account.email },
    { headers: bearer(account.token) },
  );
  return res.cardToken;
}

const AMOUNT = { currencyCode: "EUR", amountMinor: 4998n };

/** Publishes StockReserved for a new order (or `orderId`); returns the order id. */
async function stockReserved(
  account: Account,
  cardToken: string,
  options: { orderId?: string; eventId?: string; msgId?: string } = {},
): Promise<string> {
  const orderId = options.orderId ?? uuidv7();
  await publishEvent(
    bus,
    StockReservedSchema,
    {
      orderId,
      userId: account.userId,
      lines: [{ productId: uuidv7(), quantity: 2n }],
      amount: AMOUNT,
      cardToken,
      reservedAt: timestampNow(),
    },
    options,
  );
  return orderId;
}

async function orderCancelled(
  account: Account,
  orderId: string,
  options: { eventId?: string; msgId?: string } = {},
): Promise<string> {
  return publishEvent(
    bus,
    OrderCancelledSchema,
    {
      orderId,
      userId: account.userId,
      reason: CancellationReason.CUSTOMER_REQUESTED,
      detail: "changed my mind",
      cancelledAt: timestampNow(),
    },
    options,
  );
}

async function paymentOf(orderId: string): Promise<PaymentRow | undefined> {
  const [row] = await db.select().from(payments).where(eq(payments.orderId, orderId));
  return row;
}

/** Waits for the order's payment to reach `status`. */
function settledPayment(orderId: string, status: PaymentRow["status"]): Promise<PaymentRow> {
  return eventually(`payment of ${orderId} ${status}`, async () => {
    const row = await paymentOf(orderId);
    return row?.status === status ? row : undefined;
  });
}

async function processorChargesFor(orderId: string) {
  return db.select().from(processorCharges).where(eq(processorCharges.idempotencyKey, orderId));
}

/** Every event handled, every outbox row published, every published event read. */
async function quiescent(): Promise<void> {
  await eventually("payment to finish all work", async () => {
    if (!(await paymentCaughtUp(bus))) return false;
    const [{ unsent }] = await db.select({ unsent: count() }).from(outbox).where(isNull(outbox.publishedAt));
    return unsent === 0 && (await log.upToDate());
  });
}

async function expectConnectError(promise: Promise<unknown>, code: Code, messagePart?: string): Promise<ConnectError> {
  const err = await promise.then(
    () => undefined,
    (e: unknown) => e,
  );
  expect(err).toBeInstanceOf(ConnectError);
  const connectError = err as ConnectError;
  expect(Code[connectError.code]).toBe(Code[code]);
  if (messagePart) expect(connectError.rawMessage).toContain(messagePart);
  return connectError;
}

describe("TokenizeCard", () => {
  it("issues a single-use token with brand, last four digits and a 30-minute expiry", async () => {
    const before = Date.now();
    const res = await paymentsApi().tokenizeCard(
      { cardNumber: CARDS.otherMastercard, expMonth: 1, expYear: nextYear, cvc: "123", cardholderName: "Alice" },
      { headers: bearer(alice.token) },
    );
    expect(res.cardToken).toMatch(/^tok_[A-Za-z0-9_-]{24}$/);
    expect(res.cardBrand).toBe("mastercard");
    expect(res.cardLast4).toBe("4444");
    const expiresAt = Number(res.expiresAt!.seconds) * 1000;
    expect(expiresAt).toBeGreaterThanOrEqual(before + 30 * 60_000 - 1000);
    expect(expiresAt).toBeLessThanOrEqual(Date.now() + 30 * 60_000 + 1000);
    const [row] = await db.select().from(cardTokens).where(eq(cardTokens.token, res.cardToken));
    expect(row).toMatchObject({
      userId: alice.userId,
      brand: "mastercard",
      last4: "4444",
      orderId: null,
      usedAt: null,
    });
  });

  it("erases the card numbers of tokens that expired unused", async () => {
    const expired = await tokenize(alice, CARDS.approved);
    const fresh = await tokenize(alice, CARDS.approved);
    await db
      .update(cardTokens)
      .set({ expiresAt: new Date(Date.now() - 1000) })
      .where(eq(cardTokens.token, expired));
    expect(await eraseExpiredCardNumbers(db, new Date())).toBeGreaterThanOrEqual(1);
    const numberOf = async (token: string) =>
      (await db.select().from(cardTokens).where(eq(cardTokens.token, token)))[0].cardNumber;
    expect(await numberOf(expired)).toBeNull();
    expect(await numberOf(fresh)).toBe(CARDS.approved);
  });

  it("names the brand from the number", async () => {
    const brandOf = async (cardNumber: string) =>
      (
        await paymentsApi().tokenizeCard(
          { cardNumber, expMonth: 12, expYear: nextYear, cvc: "1234", cardholderName: "Alice" },
          { headers: bearer(alice.token) },
        )
      ).cardBrand;
    expect(await brandOf(CARDS.approved)).toBe("visa");
    expect(await brandOf("2223003122003222")).toBe("mastercard");
    expect(await brandOf("378282246310005")).toBe("amex");
    expect(await brandOf("6011111111111117")).toBe("card");
  });

  it("rejects a number that fails the Luhn check, naming card_number", async () => {
    const err = await expectConnectError(
      paymentsApi().tokenizeCard(
        { cardNumber: "4242424242424241", expMonth: 12, expYear: nextYear, cvc: "123", cardholderName: "Alice" },
        { headers: bearer(alice.token) },
      ),
      Code.InvalidArgument,
      "card_number",
    );
    // The same field violation detail as the contract's own rules, so forms can show it by the field.
    const [violations] = err.findDetails(ViolationsSchema);
    expect(violations?.violations.map((v) => v.field?.elements.map((e) => e.fieldName).join("."))).toEqual([
      "card_number",
    ]);
  });

  it("rejects an expired card, naming the field that makes it expired", async () => {
    const now = new Date();
    await expectConnectError(
      paymentsApi().tokenizeCard(
        {
          cardNumber: CARDS.approved,
          expMonth: 12,
          expYear: now.getUTCFullYear() - 1,
          cvc: "123",
          cardholderName: "Alice",
        },
        { headers: bearer(alice.token) },
      ),
      Code.InvalidArgument,
      "exp_year",
    );
    if (now.getUTCMonth() > 0) {
      await expectConnectError(
        paymentsApi().tokenizeCard(
          {
            cardNumber: CARDS.approved,
            expMonth: now.getUTCMonth(),
            expYear: now.getUTCFullYear(),
            cvc: "123",
            cardholderName: "Alice",
          },
          { headers: bearer(alice.token) },
        ),
        Code.InvalidArgument,
        "exp_month",
      );
    }
    // This month is still valid.
    await paymentsApi().tokenizeCard(
      {
        cardNumber: CARDS.approved,
        expMonth: now.getUTCMonth() + 1,
        expYear: now.getUTCFullYear(),
        cvc: "123",
        cardholderName: "Alice",
      },
      { headers: bearer(alice.token) },
    );
  });

  it("needs an authenticated caller", async () => {
    await expectConnectError(
      paymentsApi().tokenizeCard({
        cardNumber: CARDS.approved,
        expMonth: 12,
        expYear: nextYear,
        cvc: "123",
        cardholderName: "Anon",
      }),
      Code.Unauthenticated,
    );
  });
});

describe("charging on StockReserved", () => {
  it("captures an approved card and publishes PaymentCaptured", async () => {
    const token = await tokenize(alice, CARDS.approved);
    const orderId = await stockReserved(alice, token);
    const payment = await settledPayment(orderId, "CAPTURED");
    expect(payment).toMatchObject({
      userId: alice.userId,
      amountMinor: 4998n,
      currencyCode: "EUR",
      cardBrand: "visa",
      cardLast4: "4242",
      attempts: 1,
    });
    const captured = await eventually("PaymentCaptured", () => log.of("shop.payment.v1.PaymentCaptured", orderId)[0]);
    expect(captured.paymentId).toBe(payment.id);
    expect(captured.amount).toMatchObject(AMOUNT);
    const [tokenRow] = await db.select().from(cardTokens).where(eq(cardTokens.token, token));
    expect(tokenRow.orderId).toBe(orderId);
    expect(tokenRow.usedAt).not.toBeNull();
    // Once the charge is final the full card number is not kept.
    expect(tokenRow.cardNumber).toBeNull();

    const api = paymentsApi();
    const { payment: read } = await api.getPayment({ paymentId: payment.id }, { headers: bearer(alice.token) });
    expect(read).toMatchObject({
      id: payment.id,
      orderId,
      status: PaymentStatus.CAPTURED,
      cardBrand: "visa",
      cardLast4: "4242",
      attempts: 1,
    });
    expect(read!.amount).toMatchObject(AMOUNT);
    expect(read!.refundedAt).toBeUndefined();
    const { payments: listed } = await api.listPayments({ orderId }, { headers: bearer(alice.token) });
    expect(listed.map((p) => p.id)).toEqual([payment.id]);
  });

  it("approves any other Luhn-valid number", async () => {
    const orderId = await stockReserved(alice, await tokenize(alice, CARDS.otherMastercard));
    const payment = await settledPayment(orderId, "CAPTURED");
    expect(payment).toMatchObject({ cardBrand: "mastercard", cardLast4: "4444" });
  });

  it.each([
    ["declined", CARDS.declined, "CARD_DECLINED", PaymentFailureReason.CARD_DECLINED],
    ["insufficient funds", CARDS.insufficientFunds, "INSUFFICIENT_FUNDS", PaymentFailureReason.INSUFFICIENT_FUNDS],
  ] as const)("fails a %s card with its reason and publishes PaymentFailed", async (_, card, reason, reasonEnum) => {
    const orderId = await stockReserved(alice, await tokenize(alice, card));
    const payment = await settledPayment(orderId, "FAILED");
    expect(payment).toMatchObject({ failureReason: reason, attempts: 1 });
    const failed = await eventually("PaymentFailed", () => log.of("shop.payment.v1.PaymentFailed", orderId)[0]);
    expect(failed).toMatchObject({ paymentId: payment.id, userId: alice.userId, reason: reasonEnum });
    expect(log.of("shop.payment.v1.PaymentCaptured", orderId)).toHaveLength(0);
    const { payment: read } = await paymentsApi().getPayment(
      { paymentId: payment.id },
      { headers: bearer(alice.token) },
    );
    expect(read).toMatchObject({ status: PaymentStatus.FAILED, failureReason: reasonEnum });
  });

  it("retries a processor outage exactly the configured number of times, then fails with PROCESSOR_UNAVAILABLE", async () => {
    const orderId = await stockReserved(alice, await tokenize(alice, CARDS.outage));
    const payment = await settledPayment(orderId, "FAILED");
    expect(payment).toMatchObject({ failureReason: "PROCESSOR_UNAVAILABLE", attempts: MAX_ATTEMPTS });
    const [charge] = await processorChargesFor(orderId);
    expect(charge).toMatchObject({ attempts: MAX_ATTEMPTS, outcome: null });
    const failed = await eventually("PaymentFailed", () => log.of("shop.payment.v1.PaymentFailed", orderId)[0]);
    expect(failed.reason).toBe(PaymentFailureReason.PROCESSOR_UNAVAILABLE);
    await quiescent();
    expect(log.about(orderId)).toHaveLength(1);
    expect((await processorChargesFor(orderId))[0].attempts).toBe(MAX_ATTEMPTS);
  });

  it("captures the outage-then-approve card on the third attempt", async () => {
    const orderId = await stockReserved(alice, await tokenize(alice, CARDS.outageThenApproved));
    const payment = await settledPayment(orderId, "CAPTURED");
    expect(payment.attempts).toBe(3);
    const [charge] = await processorChargesFor(orderId);
    expect(charge).toMatchObject({ attempts: 3, outcome: "APPROVED" });
    await eventually("PaymentCaptured", () => log.of("shop.payment.v1.PaymentCaptured", orderId)[0]);
  });

  describe("fails with INVALID_CARD_TOKEN and charges nothing when the token is", () => {
    async function expectInvalidToken(account: Account, cardToken: string): Promise<void> {
      const orderId = await stockReserved(account, cardToken);
      const payment = await settledPayment(orderId, "FAILED");
      expect(payment).toMatchObject({ failureReason: "INVALID_CARD_TOKEN", attempts: 0, cardLast4: "" });
      expect(await processorChargesFor(orderId)).toHaveLength(0);
      const failed = await eventually("PaymentFailed", () => log.of("shop.payment.v1.PaymentFailed", orderId)[0]);
      expect(failed.reason).toBe(PaymentFailureReason.INVALID_CARD_TOKEN);
    }

    it("unknown", () => expectInvalidToken(alice, "tok_doesnotexistdoesnotexist"));

    it("someone else's", async () => {
      const bobsToken = await tokenize(bob, CARDS.approved);
      await expectInvalidToken(alice, bobsToken);
      // Still Bob's to use.
      const orderId = await stockReserved(bob, bobsToken);
      await settledPayment(orderId, "CAPTURED");
    });

    it("already used for another order", async () => {
      const token = await tokenize(alice, CARDS.approved);
      await settledPayment(await stockReserved(alice, token), "CAPTURED");
      await expectInvalidToken(alice, token);
    });

    it("expired", async () => {
      const token = await tokenize(alice, CARDS.approved);
      await db
        .update(cardTokens)
        .set({ expiresAt: new Date(Date.now() - 1000) })
        .where(eq(cardTokens.token, token));
      await expectInvalidToken(alice, token);
    });
  });

  it("charges once however often StockReserved is delivered (same and different event ids)", async () => {
    const token = await tokenize(alice, CARDS.approved);
    const orderId = uuidv7();
    const eventId = uuidv7();
    // Same event id past JetStream's de-duplication (as after a relay crash
    // outside the duplicate window), then a different event for the same order.
    await stockReserved(alice, token, { orderId, eventId });
    await stockReserved(alice, token, { orderId, eventId, msgId: uuidv7() });
    await stockReserved(alice, token, { orderId });
    await stockReserved(alice, token, { orderId });
    await settledPayment(orderId, "CAPTURED");
    await quiescent();
    const charges = await processorChargesFor(orderId);
    expect(charges).toHaveLength(1);
    expect(charges[0]).toMatchObject({ attempts: 1, outcome: "APPROVED" });
    expect(log.of("shop.payment.v1.PaymentCaptured", orderId)).toHaveLength(1);
    expect(log.about(orderId)).toHaveLength(1);
    expect(await db.select().from(payments).where(eq(payments.orderId, orderId))).toHaveLength(1);
  });
});

describe("refunds on OrderCancelled", () => {
  it("refunds a captured payment once, however often OrderCancelled is delivered", async () => {
    const orderId = await stockReserved(alice, await tokenize(alice, CARDS.approved));
    const captured = await settledPayment(orderId, "CAPTURED");
    const eventId = await orderCancelled(alice, orderId);
    await orderCancelled(alice, orderId, { eventId, msgId: uuidv7() });
    await orderCancelled(alice, orderId);
    const refunded = await settledPayment(orderId, "REFUNDED");
    expect(refunded.refundedAt).not.toBeNull();
    await quiescent();
    const events = log.about(orderId);
    expect(events.map((e) => e.$typeName)).toEqual([
      "shop.payment.v1.PaymentCaptured",
      "shop.payment.v1.PaymentRefunded",
    ]);
    const refundEvent = log.of("shop.payment.v1.PaymentRefunded", orderId)[0];
    expect(refundEvent).toMatchObject({ paymentId: captured.id });
    expect(refundEvent.amount).toMatchObject(AMOUNT);
    const [charge] = await processorChargesFor(orderId);
    expect(charge.refundId).not.toBeNull();
    const { payment } = await paymentsApi().getPayment({ paymentId: captured.id }, { headers: bearer(alice.token) });
    expect(payment!.status).toBe(PaymentStatus.REFUNDED);
    expect(payment!.refundedAt).toBeDefined();
  });

  it("records a cancellation that arrives during a slow charge and refunds right after the capture", async () => {
    const orderId = await stockReserved(alice, await tokenize(alice, CARDS.slow));
    // PENDING is committed just before the processor is called.
    await eventually("the slow charge to start", async () => (await paymentOf(orderId))?.status === "PENDING");
    await orderCancelled(alice, orderId);
    // The cancellation is recorded while the processor is still busy: the
    // charger holds no lock the cancel path waits for.
    const pending = await eventually("cancel_requested while PENDING", async () => {
      const row = await paymentOf(orderId);
      return row?.cancelRequestedAt ? row : undefined;
    });
    expect(pending.status).toBe("PENDING");
    const refunded = await settledPayment(orderId, "REFUNDED");
    expect(refunded.cancelRequestedAt!.getTime()).toBeLessThanOrEqual(refunded.capturedAt!.getTime());
    await quiescent();
    expect(log.about(orderId).map((e) => e.$typeName)).toEqual([
      "shop.payment.v1.PaymentCaptured",
      "shop.payment.v1.PaymentRefunded",
    ]);
    const [charge] = await processorChargesFor(orderId);
    expect(charge).toMatchObject({ attempts: 1, outcome: "APPROVED" });
    expect(charge.refundId).not.toBeNull();
  });

  it("charges nothing when the order was cancelled before its StockReserved arrived", async () => {
    const token = await tokenize(alice, CARDS.approved);
    const orderId = uuidv7();
    await orderCancelled(alice, orderId);
    await eventually("the tombstone", async () => (await paymentOf(orderId))?.status === "CANCELLED_BEFORE_CHARGE");
    await stockReserved(alice, token, { orderId });
    await quiescent();
    expect((await paymentOf(orderId))?.status).toBe("CANCELLED_BEFORE_CHARGE");
    expect(await processorChargesFor(orderId)).toHaveLength(0);
    expect(log.about(orderId)).toHaveLength(0);
    // The token was not spent on the cancelled order.
    const [tokenRow] = await db.select().from(cardTokens).where(eq(cardTokens.token, token));
    expect(tokenRow).toMatchObject({ orderId: null, usedAt: null });
    // Not a payment to anyone.
    const { payments: listed } = await paymentsApi().listPayments({ orderId }, { headers: bearer(alice.token) });
    expect(listed).toEqual([]);
    await expectConnectError(paymentsApi().listPayments({ orderId }, { headers: bearer(bob.token) }), Code.NotFound);
  });

  it("leaves a failed payment alone", async () => {
    const orderId = await stockReserved(alice, await tokenize(alice, CARDS.declined));
    await settledPayment(orderId, "FAILED");
    await orderCancelled(alice, orderId);
    await quiescent();
    expect((await paymentOf(orderId))?.status).toBe("FAILED");
    expect(log.about(orderId).map((e) => e.$typeName)).toEqual(["shop.payment.v1.PaymentFailed"]);
  });
});

describe("after a crash between charging and recording", () => {
  /**
   * The state a charger leaves when it is killed right after the processor
   * approved: payment PENDING with its token claimed, processor charge APPROVED.
   */
  async function interruptedCharge(): Promise<{ orderId: string; token: string; chargeId: string }> {
    const token = await tokenize(alice, CARDS.approved);
    const orderId = uuidv7();
    await db.insert(payments).values({
      id: uuidv7(),
      orderId,
      userId: alice.userId,
      status: "PENDING",
      amountMinor: AMOUNT.amountMinor,
      currencyCode: AMOUNT.currencyCode,
      cardBrand: "visa",
      cardLast4: "4242",
      // Long untouched, as a payment whose charger died.
      updatedAt: new Date(Date.now() - 60_000),
    });
    await db.update(cardTokens).set({ orderId }).where(eq(cardTokens.token, token));
    const processor = new CardProcessor(db, { slowDelayMs: 0 });
    const { chargeId } = await processor.charge({ idempotencyKey: orderId, cardNumber: CARDS.approved, ...AMOUNT });
    return { orderId, token, chargeId };
  }

  async function expectCapturedOnce(orderId: string, chargeId: string): Promise<void> {
    const payment = await settledPayment(orderId, "CAPTURED");
    expect(payment.processorChargeId).toBe(chargeId);
    await quiescent();
    const charges = await processorChargesFor(orderId);
    expect(charges).toHaveLength(1);
    expect(charges[0]).toMatchObject({ chargeId, attempts: 1, outcome: "APPROVED" });
    expect(log.about(orderId).map((e) => e.$typeName)).toEqual(["shop.payment.v1.PaymentCaptured"]);
  }

  it("a redelivered StockReserved records the first charge instead of charging again", async () => {
    const { orderId, token, chargeId } = await interruptedCharge();
    await stockReserved(alice, token, { orderId });
    await expectCapturedOnce(orderId, chargeId);
  });

  it("the recovery sweep finishes a payment nobody is charging any more", async () => {
    const { orderId, chargeId } = await interruptedCharge();
    // The service's own sweep runs every 30 s by default; run one here, with
    // the same code against the same database (its relay publishes the event).
    const processor = new CardProcessor(db, { slowDelayMs: 0 });
    const logger = createLogger("payment-test", { level: "silent" });
    const charger = new OrderCharger(
      db,
      processor,
      new PaymentTransitions(createOutbox({ naming: system.naming }), processor),
      { maxAttempts: MAX_ATTEMPTS, firstDelayMs: 20 },
      logger,
    );
    const recovery = new PendingPaymentRecovery(db, charger, { staleAfterMs: 30_000, intervalMs: 60_000 }, logger);
    expect(await recovery.sweep()).toBeGreaterThanOrEqual(1);
    await expectCapturedOnce(orderId, chargeId);
    // Finished payments are not picked up again.
    expect(await recovery.sweep()).toBe(0);
  });
});

describe("reading payments", () => {
  let alicesPayment: PaymentRow;

  beforeAll(async () => {
    alicesPayment = await settledPayment(await stockReserved(alice, await tokenize(alice, CARDS.approved)), "CAPTURED");
  });

  it("answers NotFound for someone else's payment and order", async () => {
    const api = paymentsApi();
    await expectConnectError(
      api.getPayment({ paymentId: alicesPayment.id }, { headers: bearer(bob.token) }),
      Code.NotFound,
    );
    await expectConnectError(
      api.listPayments({ orderId: alicesPayment.orderId }, { headers: bearer(bob.token) }),
      Code.NotFound,
    );
  });

  it("answers NotFound for a payment that does not exist", async () => {
    await expectConnectError(
      paymentsApi().getPayment({ paymentId: uuidv7() }, { headers: bearer(alice.token) }),
      Code.NotFound,
    );
  });

  it("lets an admin read anyone's payments", async () => {
    const admin = await system.adminToken();
    const api = paymentsApi();
    const { payment } = await api.getPayment({ paymentId: alicesPayment.id }, { headers: bearer(admin) });
    expect(payment!.userId).toBe(alice.userId);
    const { payments: listed } = await api.listPayments({ orderId: alicesPayment.orderId }, { headers: bearer(admin) });
    expect(listed).toHaveLength(1);
  });

  it("needs an authenticated caller", async () => {
    await expectConnectError(paymentsApi().getPayment({ paymentId: alicesPayment.id }), Code.Unauthenticated);
    await expectConnectError(paymentsApi().listPayments({ orderId: alicesPayment.orderId }), Code.Unauthenticated);
  });

  it("never returns the card number", async () => {
    const { payment } = await paymentsApi().getPayment(
      { paymentId: alicesPayment.id },
      { headers: bearer(alice.token) },
    );
    expect(JSON.stringify(payment, (_, v: unknown) => (typeof v === "bigint" ? String(v) : v))).not.toContain(
      CARDS.approved,
    );
  });
});

describe("the simulated card processor", () => {
  const charge = (idempotencyKey: string, cardNumber: string, amount = AMOUNT) =>
    new CardProcessor(db, { slowDelayMs: 0 }).charge({ idempotencyKey, cardNumber, ...amount });

  it("answers a repeated key with its first decision, for approvals and declines alike", async () => {
    for (const [card, decision] of [
      [CARDS.approved, "APPROVED"],
      [CARDS.declined, "DECLINED"],
    ] as const) {
      const key = uuidv7();
      const first = await charge(key, card);
      expect(first).toMatchObject({ decision, attempts: 1 });
      expect(await charge(key, card)).toEqual(first);
      const rows = await processorChargesFor(key);
      expect(rows).toHaveLength(1);
      expect(rows[0]).toMatchObject({ chargeId: first.chargeId, attempts: 1, outcome: decision });
    }
  });

  it("refuses a key reused with a different amount", async () => {
    const key = uuidv7();
    await charge(key, CARDS.approved);
    await expect(charge(key, CARDS.approved, { ...AMOUNT, amountMinor: AMOUNT.amountMinor + 1n })).rejects.toThrow(
      "idempotency key reused with different charge parameters",
    );
  });

  it("decides a key an earlier attempt left undecided, counting that attempt", async () => {
    const key = uuidv7();
    await db.insert(processorCharges).values({
      idempotencyKey: key,
      chargeId: uuidv7(),
      amountMinor: AMOUNT.amountMinor,
      currencyCode: AMOUNT.currencyCode,
      cardLast4: CARDS.approved.slice(-4),
      attempts: 1,
    });
    expect(await charge(key, CARDS.approved)).toMatchObject({ decision: "APPROVED", attempts: 2 });
    expect((await processorChargesFor(key))[0]).toMatchObject({ attempts: 2, outcome: "APPROVED" });
  });
});
