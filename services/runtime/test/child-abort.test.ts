// childAbort: a call started alongside another, abandoned on its own or with
// the caller's whole request.
import { describe, expect, it } from "vitest";
import { childAbort } from "../src/child-abort.ts";

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
