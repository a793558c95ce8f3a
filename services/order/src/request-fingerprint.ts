// What makes two PlaceOrder requests "the same": the lines (in any order) and
// the card token. Stored with the order so that a retry with the same
// idempotency key can be told from a different order reusing the key.
import { createHash } from "node:crypto";

export interface FingerprintInput {
  lines: readonly { productId: string; quantity: number }[];
  cardToken: string;
}

export function requestFingerprint({ lines, cardToken }: FingerprintInput): string {
  const normalised = lines
    .map((l) => [l.productId.toLowerCase(), l.quantity] as const)
    .sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0));
  return createHash("sha256")
    .update(JSON.stringify({ lines: normalised, cardToken }))
    .digest("base64url");
}
