// The fuzzer itself: its judge fails what it should, and what it generates
// reaches every method with every kind of input (so a quiet run means the
// servers held, not that the fuzzer missed them).
import { Code } from "@connectrpc/connect";
import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { discoverManifests } from "../../scripts/start/services.ts";
import { callArb, fuzzTargets, judge } from "./rpc-fuzzer.ts";

const answer = (code: Code | undefined, message = "", bytes = 100) => ({
  httpStatus: 200,
  code,
  message,
  bytes,
  ms: 1,
});

describe("judge", () => {
  it("accepts successes and typed client errors", () => {
    expect(judge(answer(undefined))).toBeUndefined();
    for (const code of [Code.InvalidArgument, Code.ResourceExhausted, Code.Unauthenticated, Code.NotFound]) {
      expect(judge(answer(code, "product_ids: value must contain no more than 100 item(s)"))).toBeUndefined();
    }
  });

  it("fails Internal, Unknown, malformed, oversize and leaky answers", () => {
    expect(judge(answer(Code.Internal, "internal error"))).toMatch(/Internal/);
    expect(judge(answer(Code.Unknown))).toMatch(/Unknown/);
    expect(judge({ ...answer(undefined), malformed: "no grpc-status" })).toMatch(/malformed/);
    expect(judge(answer(undefined, "", 3 * 1024 * 1024))).toMatch(/bytes/);
    expect(judge(answer(Code.InvalidArgument, "x".repeat(5000)))).toMatch(/error message of/);
    for (const leak of [
      'insert into "orders" values ($1)',
      "TypeError: cannot read properties of undefined",
      "at priceOrder (/app/services/order/src/pricing.ts:61:3)",
      'duplicate key value violates unique constraint "users_email"',
    ]) {
      expect(judge(answer(Code.InvalidArgument, leak)), leak).toMatch(/internals/);
    }
  });
});

describe("generated calls", () => {
  it("cover every method of every deployable and every kind of input", async () => {
    const targets = fuzzTargets(await discoverManifests());
    const pool = { strings: ["0190a000-0000-7000-8000-000000000001"], tokens: ["t"] };
    const calls = fc.sample(callArb(targets, pool, 1024), { seed: 1, numRuns: 4000 });
    const methods = new Set(
      calls.map((c) => `${c.target.deployable} ${c.target.method.parent.typeName}/${c.target.method.name}`),
    );
    expect(methods.size).toBe(targets.length);
    const kinds = new Set(calls.map((c) => c.kind.replace(/ \(.*\)$/, "")));
    expect([...kinds].sort()).toEqual(
      [
        "bad framing",
        "flipped bytes",
        "malformed JSON",
        "message",
        "message+unknown field",
        "oversize",
        "random bytes",
      ].sort(),
    );
    expect(new Set(calls.map((c) => c.protocol))).toEqual(new Set(["connect", "grpc", "grpc-web"]));
    expect(calls.some((c) => c.http1)).toBe(true);
  });
});
