// Card numbers shown in groups as they are typed ("4242 4242 4242 4242";
// American Express "3782 822463 10005"), sent as digits only.

/** The digits of what was typed (spaces, dashes and anything else dropped), at most 19. */
export function cardDigits(text: string): string {
  return text.replace(/\D/g, "").slice(0, 19);
}

/** Group sizes for a number: 4-6-5 for American Express (34, 37), else fours. */
function groups(digits: string): number[] {
  return /^3[47]/.test(digits) ? [4, 6, 5] : [4, 4, 4, 4, 3];
}

export function groupCardNumber(digits: string): string {
  const parts: string[] = [];
  let at = 0;
  for (const size of groups(digits)) {
    if (at >= digits.length) break;
    parts.push(digits.slice(at, at + size));
    at += size;
  }
  return parts.join(" ");
}

/** Where the caret goes in `formatted` to stand after its `digitCount`th digit. */
export function caretAfterDigits(formatted: string, digitCount: number): number {
  if (digitCount <= 0) return 0;
  let seen = 0;
  for (let i = 0; i < formatted.length; i++) {
    if (/\d/.test(formatted[i])) seen++;
    if (seen === digitCount) return i + 1;
  }
  return formatted.length;
}
