// WatchOrder: the order now, then the order again after each change, ending
// once it is terminal, with heartbeats in between while nothing changes
// (withHeartbeats). Changes arrive through the OrderChangeFeed (Postgres
// NOTIFY); a slow poll covers notifications lost while the LISTEN connection
// was reconnecting. Ends quietly when the client goes away, and with
// Unavailable when the server drains, so the client knows to watch again
// (through another replica) rather than take the end for a terminal state.
import { Code, ConnectError, type HandlerContext } from "@connectrpc/connect";
import { eq } from "drizzle-orm";
import type { MessageInitShape } from "@bufbuild/protobuf";
import type { WatchOrderRequest, WatchOrderResponseSchema } from "@shop/gen/shop/order/v1/order_pb";
import { requireOwnerOrAdmin } from "@shop/runtime/authorization";
import { drainSignalKey } from "@shop/runtime/server";
import { withHeartbeats } from "@shop/runtime/stream-heartbeats";
import type { OrderChangeFeed } from "./order-change-feed.ts";
import { readOrderState, type OrderDatabase } from "./order-reads.ts";
import { isTerminal } from "./saga.ts";
import { orders } from "./schema.ts";

export interface WatchOrderDeps {
  db: OrderDatabase;
  feed: OrderChangeFeed;
  pollIntervalMs: number;
}

type WatchOrderMessage = MessageInitShape<typeof WatchOrderResponseSchema>;

export function watchOrder(
  deps: WatchOrderDeps,
  req: WatchOrderRequest,
  ctx: HandlerContext,
): AsyncGenerator<WatchOrderMessage> {
  return withHeartbeats<WatchOrderMessage>(ctx, orderChanges(deps, req, ctx), () => ({ heartbeat: true }));
}

async function* orderChanges(
  deps: WatchOrderDeps,
  req: WatchOrderRequest,
  ctx: HandlerContext,
): AsyncGenerator<WatchOrderMessage> {
  const drain = ctx.values.get(drainSignalKey);
  const stop = AbortSignal.any([ctx.signal, drain]);
  const wakeup = new Wakeup();
  // Subscribe before the first read, so no change can fall between the two.
  const unsubscribe = deps.feed.subscribe(req.orderId, () => wakeup.fire());
  try {
    let state = await readOrderState(deps.db, req.orderId);
    if (!state) throw new ConnectError("order not found", Code.NotFound);
    requireOwnerOrAdmin(ctx, state.row.userId, "order");
    yield { order: state.order };

    while (!isTerminal(state.order.status)) {
      const notified = await wakeup.wait(deps.pollIntervalMs, stop);
      if (stop.aborted) break;
      if (!notified) {
        // Poll: a cheap look at the version before reading the whole order.
        const current = (
          await deps.db.select({ version: orders.version }).from(orders).where(eq(orders.id, req.orderId))
        ).at(0);
        if (current?.version === state.row.version) continue;
      }
      const next = await readOrderState(deps.db, req.orderId);
      if (!next || next.row.version === state.row.version) continue;
      state = next;
      yield { order: state.order };
    }
    if (!isTerminal(state.order.status) && drain.aborted && !ctx.signal.aborted) {
      throw new ConnectError("the server is shutting down; watch the order again", Code.Unavailable);
    }
  } finally {
    unsubscribe();
  }
}

/** A level-triggered wake-up: a fire() while nobody waits is remembered for the next wait(). */
class Wakeup {
  #pending = false;
  #wake: (() => void) | undefined;

  fire(): void {
    this.#pending = true;
    this.#wake?.();
  }

  /** Waits for fire(), `timeoutMs` or `signal`; true if fired. */
  async wait(timeoutMs: number, signal: AbortSignal): Promise<boolean> {
    if (!this.#pending && !signal.aborted) {
      await new Promise<void>((resolve) => {
        const done = () => {
          clearTimeout(timer);
          signal.removeEventListener("abort", done);
          this.#wake = undefined;
          resolve();
        };
        const timer = setTimeout(done, timeoutMs);
        signal.addEventListener("abort", done, { once: true });
        this.#wake = done;
      });
    }
    const fired = this.#pending;
    this.#pending = false;
    return fired;
  }
}
