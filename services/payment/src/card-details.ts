// What can be told from card details alone: whether the number is plausible
// (Luhn), its brand, and whether the card has expired. The digit pattern and
// field ranges are already enforced by the contract's validation rules.

/** The Luhn checksum every real card number satisfies. */
export function passesLuhn(digits: string): boolean {
  if (!/^[0-9]+$/.test(digits)) return false;
  let sum = 0;
  for (let i = 0; i < digits.length; i++) {
    let d = digits.charCodeAt(digits.length - 1 - i) - 48;
    if (i % 2 === 1) {
      d *= 2;
      if (d > 9) d -= 9;
    }
    sum += d;
  }
  return sum % 10 === 0;
}

/** The brand shown to customers, from the number's issuer prefix. */
export function cardBrand(digits: string): string {
  if (digits.startsWith("4")) return "visa";
  const two = Number(digits.slice(0, 2));
  const four = Number(digits.slice(0, 4));
  if ((two >= 51 && two <= 55) || (four >= 2221 && four <= 2720)) return "mastercard";
  if (two === 34 || two === 37) return "amex";
  return "card";
}

/**
 * Which expiry field makes the card expired at `now`, or undefined if it is
 * still valid. A card is valid through the last day of its expiry month (UTC).
 */
export function expiredField(expMonth: number, expYear: number, now: Date): "exp_year" | "exp_month" | undefined {
  const year = now.getUTCFullYear();
  const month = now.getUTCMonth() + 1;
  if (expYear < year) return "exp_year";
  if (expYear === year && expMonth < month) return "exp_month";
  return undefined;
}
