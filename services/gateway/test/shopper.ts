// The gateway as the web app uses it: Connect over HTTP/1.1, and the calls a
// checkout makes (TokenizeCard, then PlaceOrder), against the real services.
import { ConnectError, createClient, type Client } from "@connectrpc/connect";
import { createConnectTransport } from "@connectrpc/connect-node";
import type { Order } from "@shop/gen/shop/order/v1/order_pb";
import { StorefrontService } from "@shop/gen/shop/storefront/v1/storefront_pb";
import { bearer, uniqueId } from "../../../tests/support/system.ts";

/** Test cards of the simulated processor (see PaymentService in payment.proto). */
export const APPROVED_CARD = "4242424242424242";
/** Approved after PROCESSOR_SLOW_DELAY_MS: keeps an order AWAITING_PAYMENT for a while. */
export const SLOW_CARD = "4000000000003063";

export type Storefront = Client<typeof StorefrontService>;

/** A browser's client: Connect with JSON over HTTP/1.1. */
export function overHttp1(baseUrl: string): Storefront {
  return createClient(StorefrontService, createConnectTransport({ baseUrl, httpVersion: "1.1" }));
}

/** Where test orders go, as the web app's checkout sends it. */
export const SHIPPING_ADDRESS = {
  name: "Gateway Tester",
  line1: "1 Test Street",
  line2: "",
  city: "Testville",
  postalCode: "10115",
  region: "",
  countryCode: "DE",
};

/** Buys one unit of the first product in stock with `cardNumber`; the order as placed (usually PENDING). */
export async function checkout(shop: Storefront, token: string, cardNumber = APPROVED_CARD): Promise<Order> {
  const auth = { headers: bearer(token) };
  const inStock = (await shop.listProducts({ pageSize: 20 })).products.find((view) => view.available > 0n);
  if (!inStock) throw new Error("no product in stock to buy");
  const { cardToken } = await shop.tokenizeCard(
    {
      cardNumber,
      expMonth: 12,
      expYear: new Date().getUTCFullYear() + 1,
      cvc: "123",
      cardholderName: "Gateway Tester",
    },
    auth,
  );
  const { order } = await shop.placeOrder(
    {
      idempotencyKey: uniqueId("checkout"),
      lines: [{ productId: inStock.product!.id, quantity: 1 }],
      cardToken,
      shippingAddress: SHIPPING_ADDRESS,
    },
    auth,
  );
  return order!;
}

/** The error a call fails with; fails the test if it succeeds. */
export async function failure(call: Promise<unknown>): Promise<ConnectError> {
  try {
    await call;
  } catch (err) {
    return ConnectError.from(err);
  }
  throw new Error("expected the call to fail");
}
