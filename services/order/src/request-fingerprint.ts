// What makes two PlaceOrder requests "the same": the lines (in any order),
// the card token, and where the order goes (shipping address, contact email).
// Stored with the order so that a retry with the same idempotency key can be
// told from a different order reusing the key. A request without address
// and email hashes as it did before those fields existed, so retries of
// orders placed before them still match.
import { createHash } from "node:crypto";
import type { ShippingAddressValue } from "./schema.ts";

export interface FingerprintInput {
  lines: readonly { productId: string; quantity: number }[];
  cardToken: string;
  shippingAddress?: ShippingAddressValue;
  contactEmail?: string;
}

export function requestFingerprint({ lines, cardToken, shippingAddress, contactEmail }: FingerprintInput): string {
  const normalised = lines
    .map((l) => [l.productId.toLowerCase(), l.quantity] as const)
    .sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0));
  const destination = shippingAddress || contactEmail ? { shippingAddress, contactEmail } : {};
  return createHash("sha256")
    .update(JSON.stringify({ lines: normalised, cardToken, ...destination }))
    .digest("base64url");
}
