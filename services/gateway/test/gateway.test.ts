// The gateway in front of the real system (identity, catalog, inventory,
// payment, order, notification, all started in-process): both protocols on
// one port, products with live stock, accounts, the caller's token forwarded
// downstream, client errors passed through from the services behind, order
// watching relayed, the JWKS document, CORS and the web app's files.
// Failures of the services behind (a service down, the gateway draining, a
// browser going away) are in streams-and-outages.test.ts; the mapping of
// server-side errors to what a browser may see in downstream-errors.test.ts.
import { readdirSync } from "node:fs";
import path from "node:path";
import { ViolationsSchema } from "@bufbuild/protovalidate/gen/buf/validate/validate_pb.js";
import { Code, createClient, type ConnectError } from "@connectrpc/connect";
import { createGrpcTransport } from "@connectrpc/connect-node";
import { InventoryService } from "@shop/gen/shop/inventory/v1/inventory_pb";
import { OrderStatus, type Order } from "@shop/gen/shop/order/v1/order_pb";
import { StorefrontService } from "@shop/gen/shop/storefront/v1/storefront_pb";
import { Health, HealthCheckResponse_ServingStatus } from "@shop/runtime/grpc-gen/grpc/health/v1/health_pb";
import { createLocalJWKSet, jwtVerify } from "jose";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { LogSink } from "../../../tests/observability/log-sink.ts";
import {
  bearer,
  eventually,
  startSystem,
  uniqueId,
  type Account,
  type TestSystem,
} from "../../../tests/support/system.ts";
import { DIST_DIR } from "../src/web-build.ts";
import { accessLogLines } from "./access-log-lines.ts";
import { checkout, failure, overHttp1, type Storefront } from "./shopper.ts";

const ALLOWED_ORIGIN = "http://allowed.example:5173";
const OTHER_ORIGIN = "http://evil.example";

let system: TestSystem;
let logs: LogSink;
let account: Account;
let url: string;
let http1: Storefront;

beforeAll(async () => {
  logs = new LogSink();
  system = await startSystem(["identity", "catalog", "inventory", "payment", "order", "notification", "gateway"], {
    env: { CORS_ORIGINS: ` ${ALLOWED_ORIGIN} , https://shop.example.com`, LOG_LEVEL: "info" },
    logs,
  });
  url = system.url("gateway");
  http1 = overHttp1(url);
  account = await system.signUp("Gateway Tester");
});

afterAll(async () => {
  await system?.stop();
});

/** Fields named by an error's buf.validate.Violations details, as dotted paths. */
function violatedFields(err: ConnectError): string[] {
  return err
    .findDetails(ViolationsSchema)
    .flatMap((v) => v.violations.map((x) => x.field?.elements.map((e) => e.fieldName).join(".") ?? ""));
}

describe("one port, two protocols", () => {
  it("answers Connect over HTTP/1.1 (browsers)", async () => {
    const { categories } = await http1.listCategories({});
    expect(categories.map((c) => c.id)).toContain("kitchen");
  });

  it("answers gRPC over h2c, storefront and health alike", async () => {
    const transport = createGrpcTransport({ baseUrl: url });
    const grpc = createClient(StorefrontService, transport);
    const { products } = await grpc.listProducts({ categoryId: "kitchen", pageSize: 3 });
    expect(products).toHaveLength(3);
    const health = await createClient(Health, transport).check({ service: "shop.storefront.v1.StorefrontService" });
    expect(health.status).toBe(HealthCheckResponse_ServingStatus.SERVING);
  });
});

describe("products with live stock", () => {
  it("every product on a page carries its stock from inventory", async () => {
    const page = await http1.listProducts({ pageSize: 8 });
    expect(page.products).toHaveLength(8);
    expect(page.nextPageToken).not.toBe("");
    const inventory = system.client(InventoryService);
    const { stock } = await inventory.batchGetStock({ productIds: page.products.map((v) => v.product!.id) });
    expect(page.products.map((v) => v.available)).toEqual(stock.map((s) => s.available));
    expect(page.products.every((v) => v.available > 0n)).toBe(true);

    const second = await http1.listProducts({ pageSize: 8, pageToken: page.nextPageToken });
    expect(second.products[0].product!.id).not.toBe(page.products[0].product!.id);
  });

  it("stock changes show up at once (no stale cache)", async () => {
    const [view] = (await http1.listProducts({ categoryId: "garden", pageSize: 1 })).products;
    const admin = await system.adminToken();
    await system
      .client(InventoryService)
      .restock(
        { restockId: crypto.randomUUID(), productId: view.product!.id, quantity: 7n },
        { headers: bearer(admin) },
      );
    const { product } = await http1.getProduct({ productId: view.product!.id });
    expect(product!.available).toBe(view.available + 7n);
  });

  it("search results carry stock too", async () => {
    const { products } = await http1.searchProducts({ query: "kettle" });
    expect(products.length).toBeGreaterThan(0);
    expect(products[0].product!.name.toLowerCase()).toContain("kettle");
    expect(products[0].available).toBeGreaterThan(0n);
  });

  it("an unknown product is NotFound, a malformed id InvalidArgument naming the field", async () => {
    await expect(http1.getProduct({ productId: "01970000-0000-7000-8000-00000000beef" })).rejects.toMatchObject({
      code: Code.NotFound,
    });
    const err = await failure(http1.getProduct({ productId: "nope" }));
    expect(err.code).toBe(Code.InvalidArgument);
    expect(violatedFields(err)).toEqual(["product_id"]);
  });
});

describe("accounts", () => {
  it("signs up and in, and GetMe answers with the forwarded token", async () => {
    const email = `${uniqueId("gw")}@shop.test`;
    const up = await http1.signUp({ email, password: "a long enough password", displayName: "Gee" });
    expect(up.session?.user?.email).toBe(email);
    const inResponse = await http1.signIn({ email, password: "a long enough password" });
    const { user } = await http1.getMe({}, { headers: bearer(inResponse.session!.accessToken!.token) });
    expect(user?.id).toBe(up.session?.user?.id);
  });

  it("checks sign-up fields against the contract, on the contract's field names", async () => {
    const err = await failure(http1.signUp({ email: "not-an-email", password: "short", displayName: "" }));
    expect(err.code).toBe(Code.InvalidArgument);
    expect(violatedFields(err).sort()).toEqual(["display_name", "email", "password"]);
  });

  it("passes identity's own field violations through (a weak password, a blank name)", async () => {
    // Long enough for the contract, so only identity's password policy refuses it.
    const weak = await failure(
      http1.signUp({ email: `${uniqueId("weak")}@shop.test`, password: "zzzzzzzzzzzz", displayName: "Weak" }),
    );
    expect(weak.code).toBe(Code.InvalidArgument);
    const [violations] = weak.findDetails(ViolationsSchema);
    expect(violations.violations).toHaveLength(1);
    expect(violations.violations[0]).toMatchObject({
      ruleId: "password.policy",
      message: "must not be one character repeated",
    });
    expect(violatedFields(weak)).toEqual(["password"]);
    expect(weak.rawMessage).toContain("password");

    const blank = await failure(
      http1.signUp({ email: `${uniqueId("blank")}@shop.test`, password: "a long enough password", displayName: "   " }),
    );
    expect(blank.code).toBe(Code.InvalidArgument);
    expect(violatedFields(blank)).toEqual(["display_name"]);
  });

  it("a taken email is AlreadyExists", async () => {
    await expect(
      http1.signUp({ email: account.email, password: "another long password", displayName: "Twin" }),
    ).rejects.toMatchObject({ code: Code.AlreadyExists });
  });

  it("a wrong password is Unauthenticated", async () => {
    await expect(http1.signIn({ email: account.email, password: "not the password at all" })).rejects.toMatchObject({
      code: Code.Unauthenticated,
    });
  });

  it("fails fast with Unauthenticated without a token or with a bad one, but public calls ignore a bad token", async () => {
    const orderId = crypto.randomUUID();
    const reachedOrder = () => accessLogLines(logs, "order", "GetOrder").length;
    const before = reachedOrder();
    await expect(http1.getOrder({ orderId })).rejects.toMatchObject({ code: Code.Unauthenticated });
    await expect(http1.getOrder({ orderId }, { headers: bearer("not.a.jwt") })).rejects.toMatchObject({
      code: Code.Unauthenticated,
    });
    await expect(http1.listOrders({})).rejects.toMatchObject({ code: Code.Unauthenticated });
    expect(reachedOrder()).toBe(before); // the gateway refused them itself
    // The same call with a token does reach order (so the count above can tell).
    await expect(http1.getOrder({ orderId }, { headers: bearer(account.token) })).rejects.toMatchObject({
      code: Code.NotFound,
    });
    expect(reachedOrder()).toBe(before + 1);

    const { categories } = await http1.listCategories({}, { headers: bearer("expired.or.garbage") });
    expect(categories.length).toBeGreaterThan(0);
  });
});

describe("orders, on the customer's own token", () => {
  let buyer: Account;
  let placed: Order;
  const confirmed = () =>
    eventually(
      "the order CONFIRMED",
      async () =>
        (await http1.getOrder({ orderId: placed.id }, { headers: bearer(buyer.token) })).order?.status ===
        OrderStatus.CONFIRMED,
    );

  beforeAll(async () => {
    buyer = await system.signUp("Gateway Buyer");
    placed = await checkout(http1, buyer.token);
  });

  it("relays WatchOrder until the order is CONFIRMED, then the stream ends", async () => {
    const seen: OrderStatus[] = [];
    for await (const res of http1.watchOrder({ orderId: placed.id }, { headers: bearer(buyer.token) })) {
      if (res.heartbeat) continue;
      expect(res.order?.id).toBe(placed.id);
      seen.push(res.order!.status);
    }
    expect(seen.at(-1)).toBe(OrderStatus.CONFIRMED);
    // Terminal only at the end: the stream closed because the order was done.
    expect(seen.slice(0, -1).filter((s) => s === OrderStatus.CONFIRMED || s === OrderStatus.CANCELLED)).toEqual([]);
  });

  it("lists and gets the caller's orders (order only answers for the forwarded token's user)", async () => {
    await confirmed();
    const { orders } = await http1.listOrders({}, { headers: bearer(buyer.token) });
    expect(orders.map((o) => o.id)).toEqual([placed.id]);
    expect(orders[0].userId).toBe(buyer.userId);
    const { order } = await http1.getOrder({ orderId: placed.id }, { headers: bearer(buyer.token) });
    expect(order?.status).toBe(OrderStatus.CONFIRMED);
    // Another customer's token sees none of it.
    expect((await http1.listOrders({}, { headers: bearer(account.token) })).orders.map((o) => o.id)).not.toContain(
      placed.id,
    );
  });

  it("passes order's NotFound through: an unknown id, and someone else's order", async () => {
    const unknown = await failure(http1.getOrder({ orderId: crypto.randomUUID() }, { headers: bearer(buyer.token) }));
    expect(unknown.code).toBe(Code.NotFound);
    expect(unknown.rawMessage).toBe("order not found");
    const others = await failure(http1.getOrder({ orderId: placed.id }, { headers: bearer(account.token) }));
    expect(others.code).toBe(Code.NotFound);
  });

  it("passes order's FailedPrecondition through with its message", async () => {
    await confirmed();
    const err = await failure(http1.cancelOrder({ orderId: placed.id }, { headers: bearer(buyer.token) }));
    expect(err.code).toBe(Code.FailedPrecondition);
    expect(err.rawMessage).toBe("the order is CONFIRMED and can no longer be cancelled");
  });

  it("passes a PlaceOrder NotFound for an unknown product through, naming it", async () => {
    const productId = "01970000-0000-7000-8000-00000000beef";
    const { cardToken } = await http1.tokenizeCard(
      {
        cardNumber: "4242424242424242",
        expMonth: 12,
        expYear: new Date().getUTCFullYear() + 1,
        cvc: "123",
        cardholderName: "Gateway Buyer",
      },
      { headers: bearer(buyer.token) },
    );
    const err = await failure(
      http1.placeOrder(
        { idempotencyKey: uniqueId("checkout"), lines: [{ productId, quantity: 1 }], cardToken },
        { headers: bearer(buyer.token) },
      ),
    );
    expect(err.code).toBe(Code.NotFound);
    expect(err.rawMessage).toContain(productId);
  });
});

describe("JWKS", () => {
  it("serves identity's keys as a standard JWK set that verifies our tokens", async () => {
    const res = await fetch(`${url}/.well-known/jwks.json`);
    expect(res.status).toBe(200);
    expect(res.headers.get("content-type")).toMatch(/^application\/json/);
    expect(res.headers.get("cache-control")).toMatch(/max-age=\d+/);
    const jwks = (await res.json()) as { keys: Record<string, string>[] };
    expect(jwks.keys.length).toBeGreaterThan(0);
    for (const key of jwks.keys) {
      expect(key).toMatchObject({ kty: "EC", crv: "P-256", alg: "ES256", use: "sig" });
      expect(Object.keys(key).sort()).toEqual(["alg", "crv", "kid", "kty", "use", "x", "y"]);
    }
    const { payload } = await jwtVerify(account.token, createLocalJWKSet(jwks as never));
    expect(payload.sub).toBe(account.userId);
  });
});

describe("CORS", () => {
  const preflight = (origin: string) =>
    fetch(`${url}/shop.storefront.v1.StorefrontService/ListProducts`, {
      method: "OPTIONS",
      headers: {
        origin,
        "access-control-request-method": "POST",
        "access-control-request-headers": "content-type,connect-protocol-version,authorization",
      },
    });

  it("allows a configured origin, with the Connect headers", async () => {
    const res = await preflight(ALLOWED_ORIGIN);
    expect(res.status).toBe(204);
    expect(res.headers.get("access-control-allow-origin")).toBe(ALLOWED_ORIGIN);
    const allowed = res.headers.get("access-control-allow-headers")!.split(/,\s*/);
    for (const h of [
      "content-type",
      "connect-protocol-version",
      "connect-timeout-ms",
      "authorization",
      "x-grpc-web",
      "x-user-agent",
      "grpc-timeout",
    ])
      expect(allowed).toContain(h);
    expect(res.headers.get("access-control-allow-methods")).toContain("POST");

    const call = await fetch(`${url}/shop.storefront.v1.StorefrontService/ListCategories`, {
      method: "POST",
      headers: { origin: ALLOWED_ORIGIN, "content-type": "application/json" },
      body: "{}",
    });
    expect(call.status).toBe(200);
    expect(call.headers.get("access-control-allow-origin")).toBe(ALLOWED_ORIGIN);
    expect(call.headers.get("access-control-expose-headers")).toContain("grpc-status-details-bin");
  });

  it("refuses any other origin", async () => {
    const res = await preflight(OTHER_ORIGIN);
    expect(res.status).toBe(403);
    expect(res.headers.get("access-control-allow-origin")).toBeNull();
    const call = await fetch(`${url}/shop.storefront.v1.StorefrontService/ListCategories`, {
      method: "POST",
      headers: { origin: OTHER_ORIGIN, "content-type": "application/json" },
      body: "{}",
    });
    expect(call.headers.get("access-control-allow-origin")).toBeNull();
  });

  it("needs no CORS for the gateway's own origin", async () => {
    const call = await fetch(`${url}/shop.storefront.v1.StorefrontService/ListCategories`, {
      method: "POST",
      headers: { origin: url, "content-type": "application/json" },
      body: "{}",
    });
    expect(call.status).toBe(200);
    expect(call.headers.get("access-control-allow-origin")).toBeNull();
  });
});

describe("the web app", () => {
  it("serves index.html at / and for client-side routes, revalidated", async () => {
    for (const route of ["/", "/orders/01970000-0000-7000-8000-000000000005", "/checkout"]) {
      const res = await fetch(`${url}${route}`);
      expect(res.status).toBe(200);
      expect(res.headers.get("content-type")).toBe("text/html; charset=utf-8");
      expect(res.headers.get("cache-control")).toBe("no-cache");
      expect(await res.text()).toContain('<div id="app">');
    }
  });

  it("serves hashed assets for a year, images with their type, and 404s for missing files", async () => {
    const script = readdirSync(path.join(DIST_DIR, "assets")).find((f) => f.endsWith(".js"))!;
    const asset = await fetch(`${url}/assets/${script}`, { headers: { "accept-encoding": "gzip" } });
    expect(asset.status).toBe(200);
    expect(asset.headers.get("content-type")).toBe("text/javascript; charset=utf-8");
    expect(asset.headers.get("cache-control")).toBe("public, max-age=31536000, immutable");
    expect((await asset.text()).length).toBeGreaterThan(1000);

    const image = await fetch(`${url}/images/kitchen.svg`);
    expect(image.headers.get("content-type")).toBe("image/svg+xml");
    expect(await image.text()).toContain("<svg");

    expect((await fetch(`${url}/assets/missing.js`)).status).toBe(404);
    expect((await fetch(`${url}/%2e%2e/package.json`)).status).toBe(404);
    expect((await fetch(`${url}/`, { method: "DELETE" })).status).toBe(405);
  });

  it("answers a repeated request with 304 when nothing changed", async () => {
    const first = await fetch(`${url}/images/garden.svg`);
    const again = await fetch(`${url}/images/garden.svg`, { headers: { "if-none-match": first.headers.get("etag")! } });
    expect(again.status).toBe(304);
  });
});
