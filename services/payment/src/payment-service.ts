// PaymentService handlers: tokenize a card, read payments. Charging and
// refunding are event-driven (order-charger.ts, order-cancellation.ts).
//
// Card numbers, CVCs and tokens are never logged, and never appear in error
// messages. Other users' payments answer NotFound, like missing ones.
import { create } from "@bufbuild/protobuf";
import { timestampFromDate } from "@bufbuild/protobuf/wkt";
import { Code, ConnectError, type ServiceImpl } from "@connectrpc/connect";
import { and, asc, eq, ne } from "drizzle-orm";
import {
  PaymentFailureReason,
  PaymentSchema,
  PaymentService,
  PaymentStatus,
  TokenizeCardRequestSchema,
  type Payment,
} from "@shop/gen/shop/payment/v1/payment_pb";
import { fieldViolation } from "@shop/runtime/field-violation";
import { isAdmin, requireOwnerOrAdmin, requirePrincipal } from "@shop/runtime/authorization";
import type { Database } from "@shop/runtime/db/database";
import { cardBrand, expiredField, passesLuhn } from "./card-details.ts";
import { issueCardToken } from "./card-tokens.ts";
import { moneyOf } from "./payment-transitions.ts";
import * as schema from "./schema.ts";
import { payments, type PaymentRow } from "./schema.ts";

export function toPayment(row: PaymentRow): Payment {
  return create(PaymentSchema, {
    id: row.id,
    orderId: row.orderId,
    userId: row.userId,
    status: row.status === "CANCELLED_BEFORE_CHARGE" ? PaymentStatus.UNSPECIFIED : PaymentStatus[row.status],
    amount: moneyOf(row),
    cardBrand: row.cardBrand,
    cardLast4: row.cardLast4,
    failureReason: row.failureReason ? PaymentFailureReason[row.failureReason] : PaymentFailureReason.UNSPECIFIED,
    attempts: row.attempts,
    createdAt: timestampFromDate(row.createdAt),
    updatedAt: timestampFromDate(row.updatedAt),
    ...(row.refundedAt && { refundedAt: timestampFromDate(row.refundedAt) }),
  });
}

/** Tombstones are bookkeeping, not payments. */
const isPayment = ne(payments.status, "CANCELLED_BEFORE_CHARGE");

export function paymentService(db: Database<typeof schema>): ServiceImpl<typeof PaymentService> {
  return {
    async tokenizeCard(req, ctx) {
      const principal = requirePrincipal(ctx);
      if (!passesLuhn(req.cardNumber)) {
        throw fieldViolation(
          TokenizeCardRequestSchema.field.cardNumber,
          "card_number.luhn",
          "not a valid card number (Luhn check failed)",
        );
      }
      const now = new Date();
      const expired = expiredField(req.expMonth, req.expYear, now);
      if (expired) {
        const field =
          expired === "exp_year" ? TokenizeCardRequestSchema.field.expYear : TokenizeCardRequestSchema.field.expMonth;
        throw fieldViolation(field, "card.expired", "the card has expired");
      }
      // The CVC is checked by the contract's pattern and deliberately not kept.
      const brand = cardBrand(req.cardNumber);
      const token = await issueCardToken(db, {
        userId: principal.subject,
        cardNumber: req.cardNumber,
        brand,
        expMonth: req.expMonth,
        expYear: req.expYear,
        now,
      });
      return {
        cardToken: token.token,
        cardBrand: token.brand,
        cardLast4: token.last4,
        expiresAt: timestampFromDate(token.expiresAt),
      };
    },

    async getPayment({ paymentId }, ctx) {
      requirePrincipal(ctx);
      const row = (
        await db
          .select()
          .from(payments)
          .where(and(eq(payments.id, paymentId), isPayment))
      ).at(0);
      if (!row) throw new ConnectError("payment not found", Code.NotFound);
      requireOwnerOrAdmin(ctx, row.userId, "payment");
      return { payment: toPayment(row) };
    },

    async listPayments({ orderId }, ctx) {
      const principal = requirePrincipal(ctx);
      // Tombstones included: they still tell whose order it is.
      const rows = await db
        .select()
        .from(payments)
        .where(eq(payments.orderId, orderId))
        .orderBy(asc(payments.createdAt), asc(payments.id));
      if (!isAdmin(principal) && rows.some((r) => r.userId !== principal.subject)) {
        throw new ConnectError("order not found", Code.NotFound);
      }
      // An order payment has never heard of gives an empty list: payment
      // cannot tell whose it is, and the list reveals nothing either way.
      return { payments: rows.filter((r) => r.status !== "CANCELLED_BEFORE_CHARGE").map(toPayment) };
    },
  };
}
