import { PassThrough } from "node:stream";
import { describe, expect, it } from "vitest";
import { LineWaiter } from "./line-waiter.ts";

function process_() {
  let exit!: () => void;
  const exited = new Promise<void>((resolve) => (exit = resolve));
  const stdout = new PassThrough();
  const stderr = new PassThrough();
  const waiter = new LineWaiter(exited, "the launcher");
  const chunks: string[] = [];
  waiter.follow(stdout, (chunk) => chunks.push(chunk.toString()));
  waiter.follow(stderr);
  return { waiter, stdout, stderr, exit, chunks };
}

describe("LineWaiter", () => {
  it("joins lines cut between chunks, per stream, and resolves waiters on the first match", async () => {
    const p = process_();
    const ready = p.waiter.waitFor(/\[order\] ready/, { timeoutMs: 5_000 });
    p.stdout.write("[order] star");
    p.stderr.write("[nats] warning\n"); // in between, on the other stream
    p.stdout.write("ting\n[order] rea");
    p.stdout.write("dy on :7004\n");
    await expect(ready).resolves.toBe("[order] ready on :7004");
    expect(p.waiter.lines).toEqual(["[nats] warning", "[order] starting", "[order] ready on :7004"]);
    expect(p.chunks.join("")).toBe("[order] starting\n[order] ready on :7004\n");
    // Already printed: found at once; `from` skips what came before it.
    await expect(p.waiter.waitFor(/starting/, { timeoutMs: 1 })).resolves.toBe("[order] starting");
    const again = p.waiter.waitFor(/starting/, { from: 3, timeoutMs: 5_000 });
    p.stdout.write("[order] starting again\n");
    await expect(again).resolves.toBe("[order] starting again");
  });

  it("rejects after the timeout, and when the process exits first, quoting the last lines", async () => {
    const p = process_();
    p.stdout.write("[gateway] listening\n");
    await expect(p.waiter.waitFor(/never/, { timeoutMs: 20 })).rejects.toThrow(
      /no line matching \/never\/ within 20 ms; last lines:\n\[gateway\] listening/,
    );
    const pending = p.waiter.waitFor(/never/, { timeoutMs: 60_000 });
    p.exit();
    await expect(pending).rejects.toThrow(/the launcher exited before printing \/never\//);
  });
});
