// Money is integer minor units plus a currency (never a float): shown with the
// currency's own number of decimals, in English formatting like the rest of
// the shop's text (and like the notifications the server writes).
import type { Money } from "@shop/gen/shop/common/v1/money_pb";

function fractionDigits(currency: string): number {
  try {
    return new Intl.NumberFormat("en", { style: "currency", currency }).resolvedOptions().maximumFractionDigits ?? 2;
  } catch {
    return 2;
  }
}

/** E.g. { EUR, 3499 } -> "€34.99". */
export function formatMoney(amountMinor: bigint, currency: string): string {
  const digits = fractionDigits(currency);
  const negative = amountMinor < 0n;
  const abs = (negative ? -amountMinor : amountMinor).toString().padStart(digits + 1, "0");
  const decimal = digits === 0 ? abs : `${abs.slice(0, -digits)}.${abs.slice(-digits)}`;
  try {
    // A decimal string keeps every digit exact (Intl.NumberFormat v3).
    return new Intl.NumberFormat("en", { style: "currency", currency }).format(
      `${negative ? "-" : ""}${decimal}` as `${number}`,
    );
  } catch {
    return `${negative ? "-" : ""}${decimal} ${currency}`;
  }
}

export function formatPrice(money: Money | undefined): string {
  return money ? formatMoney(money.amountMinor, money.currencyCode) : "";
}
