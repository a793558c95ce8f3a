// The payment service's own environment variables (the runtime reads the
// common ones), validated at start-up with messages that name the variable.
import { env, loadConfig } from "@shop/runtime/config";
import { z } from "zod";

const settingsSchema = z.object({
  /** How long the slow test card (4000 0000 0000 3063) takes to approve. */
  PROCESSOR_SLOW_DELAY_MS: env.int({ min: 0, max: 600_000, default: 3000 }),
  /** Processor calls per order before giving up with PROCESSOR_UNAVAILABLE. */
  CHARGE_MAX_ATTEMPTS: env.int({ min: 1, max: 20, default: 4 }),
  /** Wait before the first retry after a processor outage; doubles each retry (200, 400, 800 ms). */
  CHARGE_RETRY_DELAY_MS: env.int({ min: 0, max: 60_000, default: 200 }),
  /**
   * A payment still PENDING this long after its last change lost its charger
   * (its StockReserved was dead-lettered, say); the recovery sweep finishes it.
   */
  PENDING_RECOVERY_AFTER_MS: env.int({ min: 1000, max: 86_400_000, default: 120_000 }),
  /** How often the recovery sweep looks for such payments. */
  PENDING_RECOVERY_INTERVAL_MS: env.int({ min: 100, max: 3_600_000, default: 30_000 }),
});

export type PaymentSettings = z.output<typeof settingsSchema>;

export function loadPaymentSettings(source: Record<string, string | undefined>): PaymentSettings {
  return loadConfig(settingsSchema, source);
}
