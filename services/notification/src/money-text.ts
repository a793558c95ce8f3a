// Money as customers read it: "EUR 34.99", "JPY 1,500", "KWD 2.500". Done
// with bigint arithmetic on the minor units, never through a float.
import type { Money } from "@shop/gen/shop/common/v1/money_pb";

/** Minor-unit digits of an ISO 4217 currency (2 for EUR, 0 for JPY, 3 for KWD). */
function minorDigits(currencyCode: string): number {
  try {
    return (
      new Intl.NumberFormat("en", { style: "currency", currency: currencyCode }).resolvedOptions()
        .maximumFractionDigits ?? 2
    );
  } catch {
    return 2; // not a well-formed code: show cents rather than fail the notification
  }
}

export function moneyText(money: Pick<Money, "currencyCode" | "amountMinor">): string {
  const digits = minorDigits(money.currencyCode);
  const negative = money.amountMinor < 0n;
  const minor = negative ? -money.amountMinor : money.amountMinor;
  const scale = 10n ** BigInt(digits);
  const whole = (minor / scale).toString().replace(/\B(?=(\d{3})+(?!\d))/g, ",");
  const fraction = digits > 0 ? `.${(minor % scale).toString().padStart(digits, "0")}` : "";
  return `${money.currencyCode} ${negative ? "-" : ""}${whole}${fraction}`;
}
