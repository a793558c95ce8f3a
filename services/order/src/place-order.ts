// PlaceOrder: check the customer (identity) and the prices (catalog), both
// at once, then store the order PENDING, its first timeline entry and its
// OrderPlaced event in one transaction. The shipping address and contact
// email are stored with it (the contact email defaults to the account's, as
// identity has it now).
//
// Idempotency: (user, idempotency_key) is unique. A retry of the same request
// finds the order placed the first time; the same key with a different
// request (lines or card token) fails FailedPrecondition. Two concurrent
// first attempts both pass the checks, but only one insert wins the unique
// constraint; the other re-reads the winner's order and answers with it.
import { ConnectError, Code, type HandlerContext } from "@connectrpc/connect";
import { and, eq, sql } from "drizzle-orm";
import { v7 as uuidv7 } from "uuid";
import { OrderPlacedSchema } from "@shop/gen/shop/order/v1/events_pb";
import {
  TimelineEventKind,
  type Order,
  type PlaceOrderRequest,
  type ShippingAddress,
} from "@shop/gen/shop/order/v1/order_pb";
import { timestampFromDate } from "@bufbuild/protobuf/wkt";
import { requirePrincipal } from "@shop/runtime/authorization";
import { alongside } from "@shop/runtime/child-abort";
import type { Principal } from "@shop/runtime/interceptors/auth";
import { forwardToken } from "@shop/runtime/tokens";
import { oncePerDatabase } from "@shop/runtime/db/database";
import type { Outbox } from "@shop/runtime/events/outbox";
import { deadlineFor, type Timeouts } from "./apply-transition.ts";
import type { OrderAdmission } from "./order-admission.ts";
import { money, readOrder, toOrderMessage, type OrderDatabase } from "./order-reads.ts";
import { priceOrder, type CatalogProduct, type PricedOrder } from "./pricing.ts";
import { requestFingerprint } from "./request-fingerprint.ts";
import { orderLines, orders, orderTimeline, type OrderRow, type ShippingAddressValue } from "./schema.ts";
import { timelineKindName } from "./status-mapping.ts";
import type { PublishedBy } from "@shop/runtime/manifest";
import type { DependencyClients } from "@shop/runtime/clients";
import type { manifest } from "./manifest.ts";

export interface PlaceOrderDeps {
  db: OrderDatabase;
  outbox: Outbox<PublishedBy<typeof manifest>>;
  timeouts: Timeouts;
  identity: DependencyClients<typeof manifest.dependsOn>["identity"];
  catalog: DependencyClients<typeof manifest.dependsOn>["catalog"];
  /** Refuses new orders while the shop is saturated (a retry of a placed order is always answered). */
  admission?: OrderAdmission;
}

export async function placeOrder(deps: PlaceOrderDeps, req: PlaceOrderRequest, ctx: HandlerContext): Promise<Order> {
  const principal = requirePrincipal(ctx);
  const shippingAddress = req.shippingAddress && shippingAddressValue(req.shippingAddress);
  const fingerprint = requestFingerprint({
    lines: req.lines,
    cardToken: req.cardToken,
    shippingAddress,
    contactEmail: req.contactEmail,
  });

  // A retry of a request that already succeeded needs neither identity nor
  // catalog (and works while they are down).
  const earlier = await findByKey(deps.db, principal.subject, req.idempotencyKey);
  if (earlier) return sameRequestOrFail(deps.db, earlier, fingerprint);
  return deps.admission ? deps.admission.admit(() => placeNew()) : placeNew();

  async function placeNew(): Promise<Order> {
    // Asked at once (neither needs the other's answer). The caller's account
    // comes first: identity's refusal is the answer as soon as it comes (the
    // price lookup still in flight is abandoned), whatever catalog says.
    const { customer, priced } = await alongside(
      ctx.signal,
      (signal) =>
        fetchProducts(
          deps.catalog,
          req.lines.map((l) => l.productId),
          signal,
        ),
      async (products) => {
        const customer = await checkCustomer(deps.identity, principal, ctx.signal);
        return { customer, priced: priceOrder(req.lines, await products) };
      },
    );

    const orderId = uuidv7();
    const placed = await deps.db.transaction(async (tx) => {
      const row = (
        await tx
          .insert(orders)
          .values({
            id: orderId,
            userId: principal.subject,
            status: "PENDING",
            totalMinor: priced.totalMinor,
            currency: priced.currency,
            idempotencyKey: req.idempotencyKey,
            requestFingerprint: fingerprint,
            deadlineAt: deadlineFor("stock", deps.timeouts),
            shippingAddress: shippingAddress ?? null,
            contactEmail: req.contactEmail || customer.email,
          })
          .onConflictDoNothing({ target: [orders.userId, orders.idempotencyKey] })
          .returning()
      ).at(0);
      // Lost the race to a concurrent attempt with the same key (ON CONFLICT
      // waited for it to commit).
      if (!row) return undefined;
      // Independent of each other: pipelined on the transaction's connection.
      const [lines, timeline] = await Promise.all([
        tx
          .insert(orderLines)
          .values(priced.lines.map((line, lineNo) => ({ orderId, lineNo, ...line })))
          .returning(),
        tx
          .insert(orderTimeline)
          .values({
            orderId,
            status: "PENDING",
            kind: timelineKindName(TimelineEventKind.PLACED),
            description: "order placed; waiting for stock to be reserved",
          })
          .returning(),
        deps.outbox.enqueue(tx, OrderPlacedSchema, orderPlacedEvent(row, priced, req.cardToken)),
      ]);
      return toOrderMessage(row, lines, timeline);
    });
    if (!placed) {
      const winner = await findByKey(deps.db, principal.subject, req.idempotencyKey);
      if (!winner) throw new Error("idempotency key conflict without a stored order");
      return sameRequestOrFail(deps.db, winner, fingerprint);
    }
    // The order as this transaction wrote it: PENDING. Reading it again after
    // the commit could already show the saga's next step (the consumers are
    // quick), and costs a second transaction.
    return placed;
  }
}

function orderPlacedEvent(row: OrderRow, priced: PricedOrder, cardToken: string) {
  return {
    orderId: row.id,
    userId: row.userId,
    lines: priced.lines.map((l) => ({
      productId: l.productId,
      productName: l.productName,
      quantity: l.quantity,
      unitPrice: money(priced.currency, l.unitPriceMinor),
      lineTotal: money(priced.currency, l.unitPriceMinor * BigInt(l.quantity)),
      imageUrl: l.imageUrl,
    })),
    total: money(priced.currency, priced.totalMinor),
    cardToken,
    placedAt: timestampFromDate(row.createdAt),
  };
}

// Every PlaceOrder asks first: built once.
const orderByKey = oncePerDatabase((db: OrderDatabase) =>
  db
    .select()
    .from(orders)
    .where(and(eq(orders.userId, sql.placeholder("userId")), eq(orders.idempotencyKey, sql.placeholder("key"))))
    .prepare("order_by_idempotency_key"),
);

async function findByKey(db: OrderDatabase, userId: string, idempotencyKey: string): Promise<OrderRow | undefined> {
  const [row] = await orderByKey(db).execute({ userId, key: idempotencyKey });
  return row;
}

async function sameRequestOrFail(db: OrderDatabase, existing: OrderRow, fingerprint: string): Promise<Order> {
  if (existing.requestFingerprint !== fingerprint) {
    throw new ConnectError("idempotency_key was already used for a different order", Code.FailedPrecondition);
  }
  const order = await readOrder(db, existing.id);
  // Orders are never deleted: the row was just found by its key.
  if (!order) throw new Error(`order ${existing.id} not found after its idempotency key matched`);
  return order;
}

/** The address as stored: every field of the contract, trimmed, in one order (the fingerprint hashes it). */
function shippingAddressValue(address: ShippingAddress): ShippingAddressValue {
  return {
    name: address.name.trim(),
    line1: address.line1.trim(),
    line2: address.line2.trim(),
    city: address.city.trim(),
    postalCode: address.postalCode.trim(),
    region: address.region.trim(),
    countryCode: address.countryCode,
  };
}

/** The caller must be a user identity knows; asked with the caller's own token. */
async function checkCustomer(
  identity: PlaceOrderDeps["identity"],
  principal: Principal,
  signal: AbortSignal,
): Promise<{ email: string }> {
  try {
    const { user } = await identity.getUser(
      { userId: principal.subject },
      { headers: forwardToken(principal), signal },
    );
    return { email: user?.email ?? "" };
  } catch (err) {
    const code = ConnectError.from(err).code;
    if (code === Code.NotFound || code === Code.Unauthenticated) {
      throw new ConnectError("the account this access token was issued for does not exist", Code.Unauthenticated);
    }
    if (code === Code.PermissionDenied) {
      throw new ConnectError("this account may not place orders", Code.PermissionDenied);
    }
    throw new ConnectError(
      "cannot check the account right now (identity unavailable); nothing was placed, try again",
      Code.Unavailable,
    );
  }
}

async function fetchProducts(
  catalog: PlaceOrderDeps["catalog"],
  productIds: string[],
  signal: AbortSignal,
): Promise<CatalogProduct[]> {
  try {
    const { products } = await catalog.batchGetProducts({ productIds }, { signal });
    return products;
  } catch {
    throw new ConnectError(
      "cannot price the order right now (catalog unavailable); nothing was placed, try again",
      Code.Unavailable,
    );
  }
}
