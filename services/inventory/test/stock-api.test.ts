// InventoryService over the wire: public stock reads (seeded opening stock,
// never-stocked products) and the admin-only, idempotent Restock.
import { Code } from "@connectrpc/connect";
import { seedProducts } from "@shop/runtime/demo/catalogue";
import { InventoryService } from "@shop/gen/shop/inventory/v1/inventory_pb";
import { v7 as uuidv7 } from "uuid";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { expectCode } from "../../../tests/support/expect-code.ts";
import { bearer, startSystem, type TestSystem } from "../../../tests/support/system.ts";

let system: TestSystem;
beforeAll(async () => {
  system = await startSystem(["identity", "inventory"]);
});
afterAll(() => system?.stop());

const inventory = () => system.client(InventoryService);

describe("reading stock", () => {
  it("starts with the demo catalogue's opening stock", async () => {
    const [kettle] = seedProducts;
    const { stock } = await inventory().getStock({ productId: kettle.id });
    expect(stock).toMatchObject({ productId: kettle.id, available: BigInt(kettle.openingStock), reserved: 0n });
    expect(stock?.updatedAt).toBeDefined();
  });

  it("reads a product that was never stocked as zero", async () => {
    const productId = uuidv7();
    const { stock } = await inventory().getStock({ productId });
    expect(stock).toMatchObject({ productId, available: 0n, reserved: 0n });
    expect(stock?.updatedAt).toBeUndefined();
  });

  it("reads several products in request order, unknown ones as zero", async () => {
    const [a, b] = seedProducts;
    const unknown = uuidv7();
    const { stock } = await inventory().batchGetStock({ productIds: [b.id, unknown, a.id] });
    expect(stock.map((s) => [s.productId, s.available])).toEqual([
      [b.id, BigInt(b.openingStock)],
      [unknown, 0n],
      [a.id, BigInt(a.openingStock)],
    ]);
  });

  it("answers a malformed product id with InvalidArgument naming the field", async () => {
    await expectCode(inventory().getStock({ productId: "not-a-uuid" }), Code.InvalidArgument, "product_id");
    await expectCode(inventory().batchGetStock({ productIds: [] }), Code.InvalidArgument, "product_ids");
  });
});

describe("restocking", () => {
  it("adds units once per restock id", async () => {
    const headers = bearer(await system.adminToken());
    const productId = uuidv7();
    const first = { restockId: uuidv7(), productId, quantity: 7n };

    const added = await inventory().restock(first, { headers });
    expect(added.stock).toMatchObject({ productId, available: 7n, reserved: 0n });
    // Repeating the call (a client retry) adds nothing and answers the current stock.
    const repeated = await inventory().restock(first, { headers });
    expect(repeated.stock).toMatchObject({ productId, available: 7n, reserved: 0n });

    const more = await inventory().restock({ restockId: uuidv7(), productId, quantity: 3n }, { headers });
    expect(more.stock?.available).toBe(10n);
    expect((await inventory().getStock({ productId })).stock?.available).toBe(10n);
  });

  it("applies concurrent repeats of one restock once", async () => {
    const headers = bearer(await system.adminToken());
    const [, , knife] = seedProducts;
    const request = { restockId: uuidv7(), productId: knife.id, quantity: 5n };
    const answers = await Promise.all(Array.from({ length: 8 }, () => inventory().restock(request, { headers })));
    const expected = BigInt(knife.openingStock) + 5n;
    expect(answers.map((a) => a.stock?.available)).toEqual(Array(8).fill(expected));
    expect((await inventory().getStock({ productId: knife.id })).stock?.available).toBe(expected);
  });

  it("refuses a restock id reused for a different delivery", async () => {
    const headers = bearer(await system.adminToken());
    const request = { restockId: uuidv7(), productId: uuidv7(), quantity: 2n };
    await inventory().restock(request, { headers });
    await expectCode(inventory().restock({ ...request, quantity: 3n }, { headers }), Code.AlreadyExists, "restock_id");
    await expectCode(
      inventory().restock({ ...request, productId: uuidv7() }, { headers }),
      Code.AlreadyExists,
      "restock_id",
    );
    expect((await inventory().getStock({ productId: request.productId })).stock?.available).toBe(2n);
  });

  it("rejects a quantity of zero with InvalidArgument naming the field", async () => {
    const headers = bearer(await system.adminToken());
    const productId = uuidv7();
    await expectCode(
      inventory().restock({ restockId: uuidv7(), productId, quantity: 0n }, { headers }),
      Code.InvalidArgument,
      "quantity",
    );
    expect((await inventory().getStock({ productId })).stock?.available).toBe(0n);
  });

  it("is for admins only", async () => {
    const [kettle] = seedProducts;
    const request = { restockId: uuidv7(), productId: kettle.id, quantity: 100n };
    await expectCode(inventory().restock(request), Code.Unauthenticated);
    await expectCode(inventory().restock(request, { headers: bearer("not.a.jwt") }), Code.Unauthenticated);
    const customer = await system.signUp();
    await expectCode(inventory().restock(request, { headers: bearer(customer.token) }), Code.PermissionDenied);
    expect((await inventory().getStock({ productId: kettle.id })).stock?.available).toBe(BigInt(kettle.openingStock));
  });
});
