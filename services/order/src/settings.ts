// The order service's own environment variables (on top of the runtime's).
import { z } from "zod";
import { env, loadConfig } from "@shop/runtime/config";
import type { AdmissionLimits } from "./order-admission.ts";

const settingsSchema = z.object({
  /** How long an order may wait for inventory to reserve (or reject) its stock. */
  ORDER_PENDING_TIMEOUT_MS: env.int({ min: 1, default: 60_000 }),
  /** How long an order with reserved stock may wait for the payment outcome. */
  ORDER_PAYMENT_TIMEOUT_MS: env.int({ min: 1, default: 120_000 }),
  /** How often the timeout sweeper looks for overdue orders. */
  ORDER_SWEEP_INTERVAL_MS: env.int({ min: 10, default: 1000 }),
  /** WatchOrder re-reads the order at least this often, in case a notification was missed. */
  ORDER_WATCH_POLL_MS: env.int({ min: 10, default: 5000 }),
  /** PlaceOrder calls one replica handles at once; more are refused (ResourceExhausted); 0 = no limit. */
  ORDER_MAX_PLACING: env.int({ min: 0, default: 64 }),
  /** Orders waiting for stock or payment (all replicas) beyond which new ones are refused; 0 = no limit. */
  ORDER_MAX_IN_SAGA: env.int({ min: 0, default: 200 }),
  /**
   * The saga's backlog may hold what it finishes in this long at its
   * capacity (the rate it finished orders at over the last 3 s while at
   * least ORDER_MIN_IN_SAGA were waiting), so a new order should be done in
   * about this long; more are refused. 0 = no such rule.
   */
  ORDER_TARGET_WAIT_MS: env.int({ min: 0, default: 1000 }),
  /**
   * A backlog below this is always taken, whatever the rate: the first
   * orders of a quiet shop, and orders placed while inventory or payment
   * restart (the saga finishes them later).
   */
  ORDER_MIN_IN_SAGA: env.int({ min: 0, default: 16 }),
  /**
   * New orders are refused while more than ORDER_MAX_LAGGING orders have
   * waited longer than ORDER_LAG_MS; 0 (the default) = no such rule, because
   * it also refuses orders while inventory or payment is down, which the
   * saga otherwise takes and finishes later (tests/e2e/crash.test.ts).
   */
  ORDER_MAX_LAGGING: env.int({ min: 0, default: 0 }),
  ORDER_LAG_MS: env.int({ min: 1, default: 1500 }),
});

export interface OrderSettings {
  pendingTimeoutMs: number;
  paymentTimeoutMs: number;
  sweepIntervalMs: number;
  watchPollMs: number;
  admission: AdmissionLimits;
}

export function loadOrderSettings(source: Record<string, string | undefined>): OrderSettings {
  const c = loadConfig(settingsSchema, source);
  return {
    pendingTimeoutMs: c.ORDER_PENDING_TIMEOUT_MS,
    paymentTimeoutMs: c.ORDER_PAYMENT_TIMEOUT_MS,
    sweepIntervalMs: c.ORDER_SWEEP_INTERVAL_MS,
    watchPollMs: c.ORDER_WATCH_POLL_MS,
    admission: {
      maxPlacing: c.ORDER_MAX_PLACING,
      maxInSaga: c.ORDER_MAX_IN_SAGA,
      targetWaitMs: c.ORDER_TARGET_WAIT_MS,
      minInSaga: c.ORDER_MIN_IN_SAGA,
      maxLagging: c.ORDER_MAX_LAGGING,
      lagMs: c.ORDER_LAG_MS,
      sampleMs: 200,
    },
  };
}
