// The validator matching of Connect GET answers (conditional-get.ts); the
// headers and 304s themselves are tested against the gateway
// (services/gateway/test/catalog-cache.test.ts).
import { describe, expect, it } from "vitest";
import { entityTag, noneMatchHits } from "../src/conditional-get.ts";

describe("If-None-Match", () => {
  const tag = entityTag(new TextEncoder().encode("an answer"));

  it("is a strong, quoted tag that changes with the bytes", () => {
    expect(tag).toMatch(/^"[A-Za-z0-9_-]{43}"$/);
    expect(entityTag(new TextEncoder().encode("another answer"))).not.toBe(tag);
  });

  it("matches the tag itself, in a list, weakly, or *", () => {
    expect(noneMatchHits(tag, tag)).toBe(true);
    expect(noneMatchHits(`"other", ${tag}`, tag)).toBe(true);
    expect(noneMatchHits(`W/${tag}`, tag)).toBe(true);
    expect(noneMatchHits("*", tag)).toBe(true);
  });

  it("does not match another tag or no header", () => {
    expect(noneMatchHits('"other"', tag)).toBe(false);
    expect(noneMatchHits(tag.slice(1, -1), tag)).toBe(false);
    expect(noneMatchHits(undefined, tag)).toBe(false);
  });
});
