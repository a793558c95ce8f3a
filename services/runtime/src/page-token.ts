// Opaque page tokens for `page_size` + `page_token` lists. A token carries the
// position to continue from and a digest of the filter it was issued for, so a
// token reused with another filter is rejected instead of silently skipping
// or repeating items.
import { createHash } from "node:crypto";
import { Code, ConnectError } from "@connectrpc/connect";

export const DEFAULT_PAGE_SIZE = 20;

/** `page_size` as the contracts define it: 0 means the default. */
export function pageSizeOf(requested: number): number {
  return requested > 0 ? requested : DEFAULT_PAGE_SIZE;
}

function digest(filter: unknown): string {
  return createHash("sha256")
    .update(JSON.stringify(filter ?? null))
    .digest("base64url")
    .slice(0, 16);
}

export function encodePageToken(position: unknown, filter: unknown): string {
  return Buffer.from(JSON.stringify({ p: position, f: digest(filter) })).toString("base64url");
}

/** The position in `token`, or undefined for the first page. */
export function decodePageToken<P>(token: string, filter: unknown, isPosition: (p: unknown) => p is P): P | undefined {
  if (token === "") return undefined;
  let parsed: unknown;
  try {
    parsed = JSON.parse(Buffer.from(token, "base64url").toString("utf8"));
  } catch {
    parsed = undefined;
  }
  const ok = typeof parsed === "object" && parsed !== null && "p" in parsed && "f" in parsed && isPosition(parsed.p);
  if (!ok) throw new ConnectError("page_token: not a token this list issued", Code.InvalidArgument);
  if ((parsed as { f: unknown }).f !== digest(filter)) {
    throw new ConnectError(
      "page_token: issued for a different filter; start again without a token",
      Code.InvalidArgument,
    );
  }
  return (parsed as { p: P }).p;
}
