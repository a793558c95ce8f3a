// Money as customers read it, the way the web app shows it: "€34.99",
// "¥1,500", "KWD 2.500" (English number formatting, the currency's own
// decimals). Formatted from a decimal string built with bigint arithmetic on
// the minor units, so no amount ever passes through a float.
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
  const minor = (negative ? -money.amountMinor : money.amountMinor).toString().padStart(digits + 1, "0");
  const decimal = `${negative ? "-" : ""}${digits === 0 ? minor : `${minor.slice(0, -digits)}.${minor.slice(-digits)}`}`;
  try {
    // Intl formats a decimal string exactly, every digit kept.
    return new Intl.NumberFormat("en", { style: "currency", currency: money.currencyCode }).format(
      decimal as `${number}`,
    );
  } catch {
    return `${money.currencyCode} ${decimal}`;
  }
}
