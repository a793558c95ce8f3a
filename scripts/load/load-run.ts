// One bounded load run: a pool of signed-up customers places orders for a
// set of restocked products, closed loop (N clients, each places an order,
// waits for its terminal state, places the next) or open loop (R orders per
// second whatever happens to the earlier ones), for a fixed duration; then no
// new orders, and the run waits for every accepted order to finish.
//
// Rates count what happened inside the measured window (after the warm-up,
// before the end); latencies are of orders placed inside it.
import { Code, ConnectError } from "@connectrpc/connect";
import { OrderStatus } from "@shop/gen/shop/order/v1/order_pb";
import type { Customer, ShopTarget } from "./shop-target.ts";

export interface LoadOptions {
  /** Closed loop with this many clients (exclusive with rate). */
  clients?: number;
  /** Open loop: orders per second (exclusive with clients). */
  rate?: number;
  durationMs: number;
  warmupMs: number;
  /** Customers signed up before the run (orders go round-robin). */
  customers: number;
  products: number;
  /** How long after the end to wait for accepted orders to finish. */
  drainMs: number;
  /** Open loop: orders the generator itself keeps in flight at most (beyond that it drops arrivals). */
  maxInFlight: number;
  admin: { email: string; password: string };
  /** Called about once a second with the stats so far. */
  onTick?: (live: LiveStats) => void;
  onNote?: (text: string) => void;
}

export interface LiveStats {
  elapsedMs: number;
  placedPerSecond: number;
  confirmedPerSecond: number;
  placeP50Ms: number;
  placeP99Ms: number;
  confirmP50Ms: number;
  confirmP99Ms: number;
  inFlight: number;
  errors: Record<string, number>;
  phase: "warm-up" | "measuring" | "draining";
}

export interface LoadSummary {
  target: string;
  mode: "closed" | "open";
  clients?: number;
  offeredRate?: number;
  durationSeconds: number;
  placed: number;
  confirmed: number;
  cancelled: Record<string, number>;
  cancelledTotal: number;
  /** Place failures by Connect code name. */
  errors: Record<string, number>;
  /** Of the errors, how many were ResourceExhausted or Unavailable (retryable refusals). */
  refused: number;
  /** Open loop arrivals the generator dropped because maxInFlight orders were waiting. */
  dropped: number;
  /** Accepted orders still not terminal when the drain ended. */
  unfinished: number;
  placedPerSecond: number;
  confirmedPerSecond: number;
  placeMs: Percentiles;
  placeToConfirmedMs: Percentiles;
  maxInFlight: number;
}

export interface Percentiles {
  p50: number;
  p90: number;
  p99: number;
  max: number;
}

export function percentiles(samples: readonly number[]): Percentiles {
  if (samples.length === 0) return { p50: 0, p90: 0, p99: 0, max: 0 };
  const sorted = [...samples].sort((a, b) => a - b);
  const at = (q: number) => sorted[Math.min(sorted.length - 1, Math.floor(q * sorted.length))] ?? 0;
  return { p50: at(0.5), p90: at(0.9), p99: at(0.99), max: sorted.at(-1) ?? 0 };
}

interface Sample {
  at: number;
  ms: number;
}

const LIVE_WINDOW_MS = 5000;
/** A refused order's card token is offered again only this long (payment keeps tokens 30 min). */
const SPARE_TOKEN_MAX_AGE_MS = 10 * 60_000;

/** What a run orders and who orders it (several runs may share them). */
export interface LoadFixtures {
  products: string[];
  customers: Customer[];
}

/** Picks and restocks the products, signs up the customers. */
export async function prepareLoad(
  target: ShopTarget,
  options: Pick<LoadOptions, "customers" | "products" | "admin" | "onNote">,
): Promise<LoadFixtures> {
  const products = await target.products(options.products);
  if (products.length === 0) throw new Error("the catalogue has no products to order");
  try {
    await target.restock(products, 1_000_000, options.admin);
  } catch (err) {
    options.onNote?.(`could not restock (${ConnectError.from(err).message}); orders may sell out`);
  }
  const customers: Customer[] = [];
  // Sign-ups are expensive (memory-hard password hashing): a few at a time.
  for (let i = 0; i < options.customers; i += 4) {
    const batch = Math.min(4, options.customers - i);
    customers.push(...(await Promise.all(Array.from({ length: batch }, () => target.signUp()))));
  }
  return { products, customers };
}

export async function runLoad(target: ShopTarget, options: LoadOptions, prepared?: LoadFixtures): Promise<LoadSummary> {
  const { products, customers } = prepared ?? (await prepareLoad(target, options));

  const t0 = performance.now();
  const measureFrom = t0 + options.warmupMs;
  const measureTo = measureFrom + options.durationMs;
  const inWindow = (t: number) => t >= measureFrom && t < measureTo;
  const abort = new AbortController();

  let placed = 0;
  let confirmed = 0;
  let refused = 0;
  let dropped = 0;
  let inFlight = 0;
  let maxInFlight = 0;
  const cancelled: Record<string, number> = {};
  const errors: Record<string, number> = {};
  const placeSamples: Sample[] = [];
  const confirmSamples: Sample[] = [];
  const placedAt: number[] = [];
  const confirmedAt: number[] = [];
  let next = 0;
  // An order refused with ResourceExhausted placed nothing, so its card token
  // (single-use: spent only by a charge) is still good: the customer's next
  // order offers it again, as a shopper's browser keeps the token it holds,
  // instead of tokenizing a card for every attempt.
  const spareTokens = new Map<Customer, { token: string; at: number }[]>();
  const cardTokenFor = async (customer: Customer): Promise<string> => {
    const spares = spareTokens.get(customer) ?? [];
    for (let spare = spares.pop(); spare; spare = spares.pop()) {
      if (performance.now() - spare.at < SPARE_TOKEN_MAX_AGE_MS) return spare.token;
    }
    return target.tokenizeCard(customer);
  };

  /** One order, start to terminal state; resolves once it is done or failed. */
  const oneOrder = async (): Promise<void> => {
    const customer = customers[next++ % customers.length];
    const productId = products[Math.floor(Math.random() * products.length)];
    let started: number;
    let accepted = false;
    let cardToken: string | undefined;
    try {
      cardToken = await cardTokenFor(customer);
      started = performance.now();
      const order = await target.placeOrder(customer, productId, cardToken, abort.signal);
      const placedTime = performance.now();
      accepted = true;
      inFlight++;
      maxInFlight = Math.max(maxInFlight, inFlight);
      placedAt.push(placedTime);
      if (inWindow(started)) {
        placed++;
        placeSamples.push({ at: placedTime, ms: placedTime - started });
      }
      const done = await target.terminal(customer, order.id, abort.signal);
      const doneTime = performance.now();
      if (done.status === OrderStatus.CONFIRMED) {
        confirmedAt.push(doneTime);
        if (inWindow(doneTime)) confirmed++;
        if (inWindow(started)) confirmSamples.push({ at: doneTime, ms: doneTime - started });
      } else if (inWindow(started)) {
        const reason = done.cancellationDetail || "cancelled";
        cancelled[reason] = (cancelled[reason] ?? 0) + 1;
      }
    } catch (err) {
      if (abort.signal.aborted) return;
      const code = ConnectError.from(err).code;
      if (!accepted) {
        const name = Code[code];
        errors[name] = (errors[name] ?? 0) + 1;
        if (code === Code.ResourceExhausted || code === Code.Unavailable) refused++;
        if (code === Code.ResourceExhausted && cardToken !== undefined) {
          const spare = { token: cardToken, at: performance.now() };
          const spares = spareTokens.get(customer);
          if (spares) spares.push(spare);
          else spareTokens.set(customer, [spare]);
        }
        // A refused client waits a little before its next order, as a polite client would.
        if (options.clients) await new Promise((r) => setTimeout(r, 20 + Math.random() * 80));
      } else {
        errors[`watch ${Code[code]}`] = (errors[`watch ${Code[code]}`] ?? 0) + 1;
      }
    } finally {
      if (accepted) inFlight--;
    }
  };

  const running = new Set<Promise<void>>();
  const track = (p: Promise<void>) => {
    running.add(p);
    void p.finally(() => running.delete(p));
  };

  const tick = setInterval(() => {
    const now = performance.now();
    const since = now - LIVE_WINDOW_MS;
    const windowSeconds = Math.min(LIVE_WINDOW_MS, now - t0) / 1000;
    const recent = (samples: Sample[]) => percentiles(samples.filter((s) => s.at >= since).map((s) => s.ms));
    const place = recent(placeSamples);
    const confirm = recent(confirmSamples);
    options.onTick?.({
      elapsedMs: now - t0,
      placedPerSecond: countSince(placedAt, since) / windowSeconds,
      confirmedPerSecond: countSince(confirmedAt, since) / windowSeconds,
      placeP50Ms: place.p50,
      placeP99Ms: place.p99,
      confirmP50Ms: confirm.p50,
      confirmP99Ms: confirm.p99,
      inFlight,
      errors: { ...errors },
      phase: now < measureFrom ? "warm-up" : now < measureTo ? "measuring" : "draining",
    });
  }, 1000);

  try {
    if (options.rate) {
      const intervalMs = 1000 / options.rate;
      let due = performance.now();
      while (performance.now() < measureTo) {
        if (running.size >= options.maxInFlight) dropped++;
        else track(oneOrder());
        due += intervalMs;
        const wait = due - performance.now();
        if (wait > 0) await new Promise((r) => setTimeout(r, wait));
      }
    } else {
      const clients = Array.from({ length: options.clients ?? 1 }, async () => {
        while (performance.now() < measureTo) await oneOrder();
      });
      await Promise.all(clients);
    }
    // No new orders; give the accepted ones time to finish.
    const drained = Promise.all([...running]);
    await Promise.race([drained, new Promise((r) => setTimeout(r, options.drainMs))]);
  } finally {
    clearInterval(tick);
    abort.abort();
  }
  const unfinished = inFlight;
  await Promise.allSettled([...running]);

  const seconds = options.durationMs / 1000;
  return {
    target: target.name,
    mode: options.rate ? "open" : "closed",
    ...(options.clients ? { clients: options.clients } : {}),
    ...(options.rate ? { offeredRate: options.rate } : {}),
    durationSeconds: seconds,
    placed,
    confirmed,
    cancelled,
    cancelledTotal: Object.values(cancelled).reduce((a, b) => a + b, 0),
    errors,
    refused,
    dropped,
    unfinished,
    placedPerSecond: placed / seconds,
    confirmedPerSecond: confirmed / seconds,
    placeMs: percentiles(placeSamples.map((s) => s.ms)),
    placeToConfirmedMs: percentiles(confirmSamples.map((s) => s.ms)),
    maxInFlight,
  };
}

function countSince(times: number[], since: number): number {
  let n = 0;
  for (let i = times.length - 1; i >= 0 && times[i] >= since; i--) n++;
  return n;
}
