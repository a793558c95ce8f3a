// childAbort: a call started alongside another, abandoned on its own or with
// the caller's whole request; alongside: two calls where the main one's
// failure decides.
import { describe, expect, it } from "vitest";
import { alongside, childAbort } from "../src/child-abort.ts";

describe("childAbort", () => {
  it("aborts with the parent, carrying its reason", () => {
    const parent = new AbortController();
    const child = childAbort(parent.signal);
    const reason = new Error("deadline");
    parent.abort(reason);
    expect(child.signal.aborted).toBe(true);
    expect(child.signal.reason).toBe(reason);
  });

  it("aborts on its own without touching the parent", () => {
    const parent = new AbortController();
    const child = childAbort(parent.signal);
    child.abort();
    expect(child.signal.aborted).toBe(true);
    expect(parent.signal.aborted).toBe(false);
  });

  it("stops following the parent once released", () => {
    const parent = new AbortController();
    const child = childAbort(parent.signal);
    child.release();
    parent.abort();
    expect(child.signal.aborted).toBe(false);
  });

  it("starts aborted under an aborted parent", () => {
    const parent = new AbortController();
    parent.abort("gone");
    const child = childAbort(parent.signal);
    expect(child.signal.aborted).toBe(true);
    expect(child.signal.reason).toBe("gone");
    child.release();
  });
});

describe("alongside", () => {
  it("gives main the side call's answer", async () => {
    const answer = await alongside(
      new AbortController().signal,
      async () => 2,
      async (side) => 40 + (await side),
    );
    expect(answer).toBe(42);
  });

  it("fails with main's failure at once and aborts the side call still in flight", async () => {
    let sideSignal: AbortSignal | undefined;
    const failure = new Error("refused");
    await expect(
      alongside(
        new AbortController().signal,
        (signal) => {
          sideSignal = signal;
          return new Promise<never>(() => undefined); // never answers
        },
        () => Promise.reject(failure),
      ),
    ).rejects.toBe(failure);
    expect(sideSignal?.aborted).toBe(true);
  });

  it("fails with the side call's failure when main awaits it", async () => {
    const failure = new Error("side down");
    await expect(
      alongside(
        new AbortController().signal,
        () => Promise.reject(failure),
        async (side) => side,
      ),
    ).rejects.toBe(failure);
  });
});
