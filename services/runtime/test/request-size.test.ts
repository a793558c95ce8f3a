// Each method reads at most what its contract allows: the largest valid
// request, with margin for JSON and unknown fields, never past the ceiling.
import { CatalogService } from "@shop/gen/shop/catalog/v1/catalog_pb";
import { describe, expect, it } from "vitest";
import { Health } from "../src/health.ts";
import { maxEncodedSize, methodReadMaxBytes, MIN_METHOD_READ_MAX_BYTES } from "../src/request-size.ts";

const MiB = 1024 * 1024;
const method = (name: string) => {
  const found = CatalogService.methods.find((m) => m.name === name);
  if (!found) throw new Error(`no ${name}`);
  return found;
};

describe("methodReadMaxBytes", () => {
  it("bounds a batch of at most 100 uuids by its contract: 64 KiB, far below the 90 KB of 30,000 ids", () => {
    // 100 ids of 36 characters, each with its tag and length.
    expect(maxEncodedSize(method("BatchGetProducts").input, 0)).toBe(10 + 100 * (10 + 36));
    expect(methodReadMaxBytes(method("BatchGetProducts"), 4 * MiB)).toBe(MIN_METHOD_READ_MAX_BYTES);
  });

  it("gives a method with long text fields room for all of them in JSON", () => {
    const limit = methodReadMaxBytes(method("CreateProduct"), 4 * MiB);
    // description alone: 2000 characters of up to 4 bytes.
    expect(limit).toBeGreaterThan(8 * 2000 * 4);
    expect(limit).toBeLessThan(MiB);
  });

  it("leaves a request type without limits in its contract at the ceiling, and never exceeds it", () => {
    const check = Health.methods.find((m) => m.name === "Check");
    if (!check) throw new Error("no Check");
    expect(methodReadMaxBytes(check, 4 * MiB)).toBe(4 * MiB);
    expect(methodReadMaxBytes(method("CreateProduct"), 16 * 1024)).toBe(16 * 1024);
  });
});
