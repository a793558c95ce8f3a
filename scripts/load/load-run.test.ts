// The load generator's own bookkeeping, against a scripted shop: what it
// offers and counts is what the benchmarks report.
import { create } from "@bufbuild/protobuf";
import { Code, ConnectError } from "@connectrpc/connect";
import { OrderSchema, OrderStatus } from "@shop/gen/shop/order/v1/order_pb";
import { describe, expect, it } from "vitest";
import { runLoad, type LoadOptions } from "./load-run.ts";
import type { Customer, ShopTarget } from "./shop-target.ts";

/** A shop that refuses every other PlaceOrder with `refusal` and confirms the rest at once. */
function scriptedShop(refusal: Code) {
  let tokens = 0;
  let calls = 0;
  const used: string[] = [];
  const target = {
    name: "order",
    tokenizeCard: async () => `tok-${String(++tokens)}`,
    placeOrder: async (_customer: Customer, _productId: string, cardToken: string) => {
      used.push(cardToken);
      if (calls++ % 2 === 0) throw new ConnectError("busy", refusal);
      return create(OrderSchema, { id: `order-${String(calls)}`, status: OrderStatus.PENDING });
    },
    terminal: async (_customer: Customer, id: string) => create(OrderSchema, { id, status: OrderStatus.CONFIRMED }),
  } as unknown as ShopTarget;
  return { target, used, tokenized: () => tokens };
}

const options: LoadOptions = {
  clients: 1,
  durationMs: 300,
  warmupMs: 0,
  customers: 1,
  products: 1,
  drainMs: 1000,
  maxInFlight: 10,
  admin: { email: "", password: "" },
};
const fixtures = { products: ["p1"], customers: [{ email: "a@example.com", headers: new Headers() }] };

describe("runLoad", () => {
  it("offers a card token again after a ResourceExhausted refusal, and a spent one never", async () => {
    const shop = scriptedShop(Code.ResourceExhausted);
    const summary = await runLoad(shop.target, options, fixtures);
    expect(summary.refused).toBeGreaterThan(0);
    expect(summary.confirmed).toBeGreaterThan(0);
    // Refused, then accepted with the same token: two offers per token.
    for (let i = 0; i + 1 < shop.used.length; i += 2) expect(shop.used[i + 1]).toBe(shop.used[i]);
    const accepted = shop.used.filter((_, i) => i % 2 === 1);
    expect(new Set(accepted).size).toBe(accepted.length);
    expect(shop.tokenized()).toBe(Math.ceil(shop.used.length / 2));
  });

  it("tokenizes anew after an Unavailable, which may have placed the order", async () => {
    const shop = scriptedShop(Code.Unavailable);
    const summary = await runLoad(shop.target, options, fixtures);
    expect(summary.refused).toBeGreaterThan(0);
    expect(new Set(shop.used).size).toBe(shop.used.length);
  });
});
