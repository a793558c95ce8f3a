// Money as customers read it, the way the web app shows it: "€34.99",
// "¥1,500", "KWD 2.500" (English number formatting, the currency's own
// decimals). Formatted from a decimal string built with bigint arithmetic on
// the minor units, so no amount ever passes through a float.
import type { Money } from "@shop/gen/shop/common/v1/money_pb";

// Building an Intl.NumberFormat costs far more than formatting with one, and
// there are only so many currencies: one per code, kept (undefined for a
// code Intl rejects).
const formats = new Map<string, Intl.NumberFormat | undefined>();

function currencyFormat(currencyCode: string): Intl.NumberFormat | undefined {
  if (formats.has(currencyCode)) return formats.get(currencyCode);
  let format: Intl.NumberFormat | undefined;
  try {
    format = new Intl.NumberFormat("en", { style: "currency", currency: currencyCode });
  } catch {
    format = undefined; // not a well-formed code
  }
  // Codes come from events, and Intl accepts any three letters: bounded.
  if (formats.size < 1000) formats.set(currencyCode, format);
  return format;
}

export function moneyText(money: Pick<Money, "currencyCode" | "amountMinor">): string {
  const format = currencyFormat(money.currencyCode);
  // Not a well-formed code: show cents rather than fail the notification.
  const digits = format?.resolvedOptions().maximumFractionDigits ?? 2;
  const negative = money.amountMinor < 0n;
  const minor = (negative ? -money.amountMinor : money.amountMinor).toString().padStart(digits + 1, "0");
  const decimal = `${negative ? "-" : ""}${digits === 0 ? minor : `${minor.slice(0, -digits)}.${minor.slice(-digits)}`}`;
  // Intl formats a decimal string exactly, every digit kept.
  return format ? format.format(decimal as `${number}`) : `${money.currencyCode} ${decimal}`;
}
