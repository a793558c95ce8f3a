// The chaos run's customers: they place a mix of orders (approved, declined
// and insufficient-funds cards, a slow processor, a product that sells out,
// orders cancelled right after placing) at a steady pace while processes
// die, and retry every retryable failure with the same idempotency key, as
// a well-behaved client does. Built on the load generator's generated
// clients (scripts/load/shop-target.ts); instances of a replicated service
// are used in turn, as a cluster Service would spread calls.
import { randomUUID } from "node:crypto";
import { Code, ConnectError } from "@connectrpc/connect";
import { CatalogService } from "@shop/gen/shop/catalog/v1/catalog_pb";
import { IdentityService } from "@shop/gen/shop/identity/v1/identity_pb";
import { InventoryService } from "@shop/gen/shop/inventory/v1/inventory_pb";
import { OrderStatus } from "@shop/gen/shop/order/v1/order_pb";
import { isOutage } from "@shop/runtime/outages";
import { isServerFault } from "@shop/runtime/rpc-codes";
import { Http2Clients } from "../load/http2-clients.ts";
import { shopTarget, type Customer, type ShopAddresses, type ShopTarget } from "../load/shop-target.ts";
import { must, type Random } from "./random.ts";
import type { ShopProcess } from "./shop-process.ts";

export const CARDS = {
  approve: "4242424242424242",
  decline: "4000000000000002",
  insufficientFunds: "4000000000009995",
  slowApprove: "4000000000003063",
} as const;

export type Scenario = "approve" | "decline" | "insufficient-funds" | "slow-approve" | "sells-out" | "cancel";

/** How often each scenario comes up (out of 100). */
const MIX: [Scenario, number][] = [
  ["approve", 55],
  ["decline", 10],
  ["insufficient-funds", 5],
  ["slow-approve", 5],
  ["sells-out", 12],
  ["cancel", 13],
];

export interface ChaosOrder {
  index: number;
  scenario: Scenario;
  idempotencyKey: string;
  customer: number;
  productId: string;
  quantity: number;
  /** Set once PlaceOrder answered with the order. */
  orderId?: string;
  /** PlaceOrder's final outcome: "ok", or why the client gave up. */
  placed?: string;
  /** For "cancel": "cancelled", "too late" (already confirmed), or why the client gave up. */
  cancel?: string;
}

/** Longest a call may take before the client gives up on it (DeadlineExceeded) and retries. */
const CALL_TIMEOUT_MS = 15_000;

/** Codes a client retries (with the same idempotency key). */
const RETRYABLE = new Set([Code.Unavailable, Code.ResourceExhausted, Code.DeadlineExceeded, Code.Aborted]);
/**
 * Codes no call may answer, faults or not: the server's faults (the runtime's
 * one definition) that a client does not simply retry, i.e. the server did
 * not know what happened (Internal, Unknown, DataLoss) or has no such method.
 */
function isUnexplainedFault(code: Code): boolean {
  return isServerFault(code) && !RETRYABLE.has(code);
}

export interface Workload {
  readonly customers: Customer[];
  readonly productIds: { plenty: string[]; sellsOut: string };
  readonly orders: ChaosOrder[];
  /** Answers by RPC and code, e.g. "PlaceOrder Unavailable" → 12. */
  readonly answers: Map<string, number>;
  /** Calls that answered a server fault code (with the message). */
  readonly faults: string[];
  /** Every order client (one per order/payment instance pair). */
  readonly targets: ShopTarget[];
  close(): void;
}

export async function prepareWorkload(
  shop: ShopProcess,
  options: { customers: number; orders: number },
): Promise<Workload> {
  const first = (service: string) => shop.of(service)[0].address;
  const orderInstances = shop.of("order");
  const paymentInstances = shop.of("payment");
  const targets = orderInstances.map((order, i) => {
    const addresses: ShopAddresses = {
      gateway: first("gateway"),
      identity: first("identity"),
      catalog: first("catalog"),
      inventory: first("inventory"),
      order: order.address,
      payment: paymentInstances[i % paymentInstances.length].address,
    };
    return shopTarget("order", addresses, CALL_TIMEOUT_MS);
  });
  const clients = new Http2Clients();
  const identity = clients.client(IdentityService, first("identity"));
  const catalog = clients.client(CatalogService, first("catalog"));
  const inventory = clients.client(InventoryService, first("inventory"));
  const login = await identity.login(shop.admin);
  const headers = new Headers({ authorization: `Bearer ${login.accessToken?.token ?? ""}` });
  const product = async (label: string, stock: number) => {
    const sku = `CHAOS-${label}-${randomUUID().slice(0, 8).toUpperCase()}`;
    const { product: created } = await catalog.createProduct(
      {
        sku,
        name: `Chaos ${label}`,
        description: "made by npm run chaos",
        categoryId: "home",
        price: { currencyCode: "EUR", amountMinor: 1500n },
      },
      { headers },
    );
    const id = must(created, "the created product").id;
    await inventory.restock({ restockId: randomUUID(), productId: id, quantity: BigInt(stock) }, { headers });
    return id;
  };
  const plenty = [await product("A", 1_000_000), await product("B", 1_000_000), await product("C", 1_000_000)];
  // About a third of the sell-out orders get their units.
  const sellsOut = await product("SCARCE", Math.max(3, Math.round(options.orders * 0.04)));
  clients.close();
  const customers: Customer[] = [];
  for (let i = 0; i < options.customers; i += 4) {
    const batch = Math.min(4, options.customers - i);
    customers.push(...(await Promise.all(Array.from({ length: batch }, () => targets[0].signUp()))));
  }
  return {
    customers,
    productIds: { plenty, sellsOut },
    orders: [],
    answers: new Map(),
    faults: [],
    targets,
    close() {
      for (const t of targets) t.close();
    },
  };
}

export interface RunOptions {
  orders: number;
  /** Orders are started evenly over this long. */
  durationMs: number;
  /** Most orders in progress at once (placing, cancelling). */
  concurrency: number;
  /** How long one order's calls keep being retried. */
  retryForMs: number;
  random: Random;
}

/** Places every order (the mix and the pace decided by the seed); resolves when every order's calls are done. */
export async function runWorkload(w: Workload, options: RunOptions): Promise<void> {
  const { random } = options;
  const total = MIX.reduce((sum, [, weight]) => sum + weight, 0);
  const scenarioOf = () => {
    let roll = random.next() * total;
    for (const [scenario, weight] of MIX) if ((roll -= weight) < 0) return scenario;
    return "approve";
  };
  for (let index = 0; index < options.orders; index++) {
    const scenario = scenarioOf();
    w.orders.push({
      index,
      scenario,
      idempotencyKey: `chaos-${String(index)}-${randomUUID()}`,
      customer: random.int(0, w.customers.length - 1),
      productId: scenario === "sells-out" ? w.productIds.sellsOut : random.pick(w.productIds.plenty),
      quantity: random.int(1, 3),
    });
  }
  const cancelDelays = w.orders.map(() => random.int(0, 400));

  const started = performance.now();
  const inProgress = new Set<Promise<void>>();
  for (const order of w.orders) {
    const due = started + (order.index * options.durationMs) / options.orders;
    const wait = due - performance.now();
    if (wait > 0) await sleep(wait);
    while (inProgress.size >= options.concurrency) await Promise.race(inProgress);
    const p = oneOrder(w, order, cancelDelays[order.index], options.retryForMs);
    inProgress.add(p);
    void p.finally(() => inProgress.delete(p));
  }
  await Promise.all(inProgress);
}

async function oneOrder(w: Workload, order: ChaosOrder, cancelDelayMs: number, retryForMs: number): Promise<void> {
  const customer = w.customers[order.customer];
  const deadline = performance.now() + retryForMs;
  const card =
    order.scenario === "decline"
      ? CARDS.decline
      : order.scenario === "insufficient-funds"
        ? CARDS.insufficientFunds
        : order.scenario === "slow-approve"
          ? CARDS.slowApprove
          : CARDS.approve;
  // Instances in turn, starting from a different one per order: a retry goes to the next one.
  const target = (attempt: number) => w.targets[(order.index + attempt) % w.targets.length];
  const abort = new AbortController();
  try {
    const token = await call(w, "TokenizeCard", deadline, (n) => target(n).tokenizeCard(customer, card));
    if (!token.ok) {
      order.placed = `gave up tokenizing: ${token.error}`;
      return;
    }
    const placed = await call(w, "PlaceOrder", deadline, (n) =>
      target(n).placeOrder(customer, order.productId, token.value, abort.signal, {
        idempotencyKey: order.idempotencyKey,
        quantity: order.quantity,
      }),
    );
    if (!placed.ok) {
      order.placed = `gave up: ${placed.error}`;
      return;
    }
    const orderId = placed.value.id;
    order.orderId = orderId;
    order.placed = "ok";
    if (order.scenario !== "cancel") return;
    await sleep(cancelDelayMs);
    const cancelled = await call(w, "CancelOrder", deadline, (n) => target(n).cancelOrder(customer, orderId), [
      Code.FailedPrecondition,
    ]);
    if (!cancelled.ok)
      order.cancel = cancelled.error === "FailedPrecondition" ? "too late" : `gave up: ${cancelled.error}`;
    else order.cancel = cancelled.value.status === OrderStatus.CANCELLED ? "cancelled" : "not cancelled";
  } finally {
    abort.abort();
  }
}

/**
 * Calls `attempt` until it answers, a non-retryable code comes back (its
 * name is the error) or the deadline passes. Codes in `expected` end the
 * retries without counting as a failure of the run.
 */
async function call<T>(
  w: Workload,
  rpc: string,
  deadline: number,
  attempt: (n: number) => Promise<T>,
  expected: Code[] = [],
): Promise<{ ok: true; value: T } | { ok: false; error: string }> {
  for (let n = 0; ; n++) {
    try {
      const value = await attempt(n);
      count(w, `${rpc} OK`);
      return { ok: true, value };
    } catch (error) {
      const e = ConnectError.from(error);
      if (transportFailure(e)) {
        // The server died mid-call (SIGKILL): connect-node says Canceled or
        // Internal with HTTP/2's words. This client cancels nothing, so it is
        // the server being unavailable, as the services' own clients say.
        count(w, `${rpc} Unavailable (connection lost)`);
        if (performance.now() >= deadline) return { ok: false, error: "still unreachable after retrying" };
        await sleep(100 + Math.random() * 200);
        continue;
      }
      count(w, `${rpc} ${Code[e.code]}`);
      if (isUnexplainedFault(e.code)) w.faults.push(`${rpc} answered ${Code[e.code]}: ${e.rawMessage}`);
      if (expected.includes(e.code)) return { ok: false, error: Code[e.code] };
      // A server fault is retried too: the same key makes it safe, and the next attempt may tell what happened.
      if (!RETRYABLE.has(e.code) && !isUnexplainedFault(e.code))
        return { ok: false, error: `${Code[e.code]}: ${e.rawMessage}` };
      if (performance.now() >= deadline) return { ok: false, error: `still ${Code[e.code]} after retrying` };
      await sleep(Math.min(2000, 100 * 2 ** Math.min(n, 5)) * (0.5 + Math.random()));
    }
  }
}

/** The HTTP/2 stream or connection broke: the peer went away, it did not answer (see the runtime's clients.ts). */
function transportFailure(e: ConnectError): boolean {
  return (
    /^http\/2 stream closed with error code (INTERNAL_ERROR|REFUSED_STREAM|CONNECT_ERROR|CANCEL)/.test(e.rawMessage) ||
    isOutage(e.cause)
  );
}

function count(w: Workload, key: string): void {
  w.answers.set(key, (w.answers.get(key) ?? 0) + 1);
}

function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}
