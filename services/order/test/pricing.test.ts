// Pricing is pure: lines priced from the catalog's products, one currency,
// and a total that always fits the int64 it is stored and sent as.
import { Code, ConnectError } from "@connectrpc/connect";
import { describe, expect, it } from "vitest";
import { priceOrder } from "../src/pricing.ts";

const product = (id: string, amountMinor: bigint, currencyCode = "EUR") => ({
  id,
  name: `product ${id}`,
  imageUrl: `/images/products/${id}.svg`,
  price: { currencyCode, amountMinor },
});

describe("priceOrder", () => {
  it("sums unit price times quantity", () => {
    const priced = priceOrder(
      [
        { productId: "a", quantity: 2 },
        { productId: "b", quantity: 1 },
      ],
      [product("a", 1999n), product("b", 500n)],
    );
    expect(priced.totalMinor).toBe(4498n);
    expect(priced.currency).toBe("EUR");
  });

  it("refuses a total that would overflow int64 with InvalidArgument, not a database error", () => {
    // 2 units of a 2^62 product (a price stored before the contract bounded prices).
    let error: unknown;
    try {
      priceOrder([{ productId: "a", quantity: 2 }], [product("a", 2n ** 62n)]);
    } catch (err) {
      error = err;
    }
    expect(error).toBeInstanceOf(ConnectError);
    expect((error as ConnectError).code).toBe(Code.InvalidArgument);
    expect((error as ConnectError).rawMessage).toMatch(/^lines: /);
  });

  it("accepts the largest total the contract allows", () => {
    const lines = Array.from({ length: 50 }, (_, i) => ({ productId: `p${String(i)}`, quantity: 100 }));
    const products = lines.map((l) => product(l.productId, 10n ** 12n));
    expect(priceOrder(lines, products).totalMinor).toBe(50n * 100n * 10n ** 12n);
  });
});
