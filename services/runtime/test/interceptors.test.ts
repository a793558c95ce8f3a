// The standard interceptor chain, observed from real clients over the wire.
import { ViolationsSchema } from "@bufbuild/protovalidate/gen/buf/validate/validate_pb.js";
import { Code, ConnectError, createClient, type Transport } from "@connectrpc/connect";
import { createConnectTransport, createGrpcTransport, createGrpcWebTransport } from "@connectrpc/connect-node";
import { CatalogService } from "@shop/gen/shop/catalog/v1/catalog_pb";
import { OrderService } from "@shop/gen/shop/order/v1/order_pb";
import { describe, expect, it } from "vitest";
import { principalOf } from "../src/interceptors/auth.ts";
import { implement } from "../src/server.ts";
import { deferred, startTestServer } from "./test-server.ts";

const validId = "0190a000-0000-7000-8000-000000000001";

const unused = () => {
  throw new ConnectError("not used in this test", Code.Unimplemented);
};
function catalogWith(getProduct: Parameters<typeof implement<typeof CatalogService>>[1]["getProduct"]) {
  return implement(CatalogService, {
    getProduct,
    batchGetProducts: unused,
    listProducts: unused,
    searchProducts: unused,
    listCategories: unused,
    createProduct: unused,
    updateProduct: unused,
    watchCatalogChanges: unused,
  });
}

function transports(url: string): Record<string, Transport> {
  return {
    connect: createConnectTransport({ httpVersion: "2", baseUrl: url, useBinaryFormat: true }),
    grpc: createGrpcTransport({ baseUrl: url }),
    "grpc-web": createGrpcWebTransport({ httpVersion: "2", baseUrl: url }),
  };
}

async function callError(call: Promise<unknown>): Promise<ConnectError> {
  try {
    await call;
  } catch (err) {
    return ConnectError.from(err);
  }
  throw new Error("expected the call to fail");
}

describe("error normalisation", () => {
  it("turns unknown errors into Internal without leaking the message, and logs the real one", async () => {
    const server = await startTestServer({
      services: [
        catalogWith(() => {
          throw new Error("connect ECONNREFUSED postgres://shop:hunter2@db/catalog");
        }),
      ],
    });
    for (const [protocol, transport] of Object.entries(transports(server.url))) {
      const err = await callError(createClient(CatalogService, transport).getProduct({ productId: validId }));
      expect(err.code, protocol).toBe(Code.Internal);
      expect(err.rawMessage, protocol).toBe("internal error");
      expect(JSON.stringify(err), protocol).not.toContain("hunter2");
    }
    const logged = server.lines.filter((l) => l.msg === "unhandled error in rpc handler");
    expect(logged).toHaveLength(3);
    expect(logged[0]).toMatchObject({
      procedure: "/shop.catalog.v1.CatalogService/GetProduct",
      err: { message: expect.stringContaining("hunter2") },
    });
  });

  it("passes ConnectErrors through unchanged", async () => {
    const server = await startTestServer({
      services: [
        catalogWith(() => {
          throw new ConnectError("product 42 not found", Code.NotFound);
        }),
      ],
    });
    const err = await callError(
      createClient(CatalogService, transports(server.url).connect).getProduct({ productId: validId }),
    );
    expect(err.code).toBe(Code.NotFound);
    expect(err.rawMessage).toBe("product 42 not found");
  });

  it("normalises errors a server stream throws after its first message", async () => {
    const server = await startTestServer({
      services: [
        implement(OrderService, {
          placeOrder: unused,
          getOrder: unused,
          listOrders: unused,
          cancelOrder: unused,
          async *watchOrder(req) {
            yield { order: { id: req.orderId } };
            throw new RangeError("secret internals");
          },
        }),
      ],
    });
    for (const [protocol, transport] of Object.entries(transports(server.url))) {
      const received: string[] = [];
      const err = await callError(
        (async () => {
          for await (const res of createClient(OrderService, transport).watchOrder({ orderId: validId })) {
            received.push(res.order?.id ?? "");
          }
        })(),
      );
      expect(received, protocol).toEqual([validId]);
      expect(err.code, protocol).toBe(Code.Internal);
      expect(err.rawMessage, protocol).not.toContain("secret");
    }
    expect(server.lines.filter((l) => l.msg === "unhandled error in rpc handler")).toHaveLength(3);
  });
});

describe("validation", () => {
  it("rejects an invalid unary request with InvalidArgument naming the field, violations attached", async () => {
    let handled = false;
    const server = await startTestServer({
      services: [
        catalogWith(() => {
          handled = true;
          return {};
        }),
      ],
    });
    for (const [protocol, transport] of Object.entries(transports(server.url))) {
      const err = await callError(createClient(CatalogService, transport).getProduct({ productId: "not-a-uuid" }));
      expect(err.code, protocol).toBe(Code.InvalidArgument);
      expect(err.rawMessage, protocol).toContain("product_id");
      const [violations] = err.findDetails(ViolationsSchema);
      expect(violations?.violations[0]?.field?.elements[0]?.fieldName, protocol).toBe("product_id");
      expect(violations?.violations[0]?.ruleId, protocol).toBe("string.uuid");
    }
    expect(handled).toBe(false);
  });

  it("validates the request of a streaming call before the handler sees it", async () => {
    let handled = false;
    const server = await startTestServer({
      services: [
        implement(OrderService, {
          placeOrder: unused,
          getOrder: unused,
          listOrders: unused,
          cancelOrder: unused,
          async *watchOrder() {
            handled = true;
            yield {};
          },
        }),
      ],
    });
    const err = await callError(
      (async () => {
        for await (const _ of createClient(OrderService, transports(server.url).connect).watchOrder({ orderId: "x" })) {
          // drain
        }
      })(),
    );
    expect(err.code).toBe(Code.InvalidArgument);
    expect(err.rawMessage).toContain("order_id");
    expect(handled).toBe(false);
  });

  it("lets valid requests through", async () => {
    const server = await startTestServer({ services: [catalogWith((req) => ({ product: { id: req.productId } }))] });
    const res = await createClient(CatalogService, transports(server.url).connect).getProduct({ productId: validId });
    expect(res.product?.id).toBe(validId);
  });
});

describe("default deadline", () => {
  it("cancels a unary call at the server default when the client asked for longer", async () => {
    const handlerAborted = deferred<unknown>();
    const server = await startTestServer({
      defaultTimeoutMs: 200,
      services: [
        catalogWith(
          (_req, ctx) =>
            new Promise((_, reject) =>
              ctx.signal.addEventListener("abort", () => {
                handlerAborted.resolve(ctx.signal.reason);
                reject(ctx.signal.reason);
              }),
            ),
        ),
      ],
    });
    const client = createClient(CatalogService, transports(server.url).connect);
    const started = Date.now();
    const err = await callError(client.getProduct({ productId: validId }, { timeoutMs: 20_000 }));
    expect(err.code).toBe(Code.DeadlineExceeded);
    // The server's 200 ms, not the client's 20 s (with slack for a busy CI machine).
    expect(Date.now() - started).toBeLessThan(10_000);
    expect(ConnectError.from(await handlerAborted.promise).code).toBe(Code.DeadlineExceeded);
  });

  it("answers on time even when the handler ignores its signal", async () => {
    const release = deferred();
    const server = await startTestServer({
      defaultTimeoutMs: 200,
      services: [catalogWith(() => release.promise.then(() => ({})))],
    });
    const started = Date.now();
    const err = await callError(
      createClient(CatalogService, transports(server.url).grpc).getProduct(
        { productId: validId },
        { timeoutMs: 20_000 },
      ),
    );
    release.resolve();
    expect(err.code).toBe(Code.DeadlineExceeded);
    expect(Date.now() - started).toBeLessThan(10_000);
  });

  it("does not cut off server streams", async () => {
    const server = await startTestServer({
      defaultTimeoutMs: 100,
      services: [
        implement(OrderService, {
          placeOrder: unused,
          getOrder: unused,
          listOrders: unused,
          cancelOrder: unused,
          async *watchOrder(req, ctx) {
            yield { order: { id: req.orderId } };
            // Outlive the default deadline several times over, then finish.
            await new Promise((resolve) => AbortSignal.timeout(400).addEventListener("abort", resolve));
            expect(ctx.signal.aborted).toBe(false);
            yield { order: { id: req.orderId } };
          },
        }),
      ],
    });
    let count = 0;
    for await (const _ of createClient(OrderService, transports(server.url).connect).watchOrder({ orderId: validId }))
      count++;
    expect(count).toBe(2);
  });
});

describe("auth context", () => {
  it("puts the principal from authenticate() into the handler context", async () => {
    const server = await startTestServer({
      authenticate: ({ header }) => {
        const user = header.get("x-test-user");
        return user ? { subject: user, roles: ["customer"] } : undefined;
      },
      services: [catalogWith((_req, ctx) => ({ product: { name: principalOf(ctx)?.subject ?? "anonymous" } }))],
    });
    const client = createClient(CatalogService, transports(server.url).connect);
    const named = await client.getProduct({ productId: validId }, { headers: { "x-test-user": "u-123" } });
    expect(named.product?.name).toBe("u-123");
    const anonymous = await client.getProduct({ productId: validId });
    expect(anonymous.product?.name).toBe("anonymous");
  });

  it("fails the call when authenticate() rejects the credential", async () => {
    let handled = false;
    const server = await startTestServer({
      authenticate: () => {
        throw new ConnectError("token expired", Code.Unauthenticated);
      },
      services: [
        catalogWith(() => {
          handled = true;
          return {};
        }),
      ],
    });
    const err = await callError(
      createClient(CatalogService, transports(server.url).connect).getProduct({ productId: validId }),
    );
    expect(err.code).toBe(Code.Unauthenticated);
    expect(handled).toBe(false);
  });
});

describe("access log", () => {
  it("writes one JSON line per call with service, method, code, duration and protocol", async () => {
    const server = await startTestServer({ services: [catalogWith(() => ({}))] });
    const t = transports(server.url);
    await createClient(CatalogService, t.grpc).getProduct({ productId: validId });
    await callError(createClient(CatalogService, t.connect).getProduct({ productId: "bad" }));
    const rpcLines = server.lines.filter((l) => l.msg === "rpc");
    expect(rpcLines).toEqual([
      expect.objectContaining({
        rpc: { service: "shop.catalog.v1.CatalogService", method: "GetProduct", kind: "unary" },
        code: "ok",
        protocol: "grpc",
        durationMs: expect.any(Number),
      }),
      expect.objectContaining({ code: "invalid_argument", protocol: "connect" }),
    ]);
  });

  it("does not log health probes", async () => {
    const server = await startTestServer({ services: [catalogWith(() => ({}))] });
    const { Health } = await import("../src/health.ts");
    await createClient(Health, transports(server.url).grpc).check({ service: "" });
    expect(server.lines.filter((l) => l.msg === "rpc")).toEqual([]);
  });
});

describe("HTTP/1.1 listener", () => {
  it("serves Connect and gRPC-Web to HTTP/1.1 clients on the second port", async () => {
    const server = await startTestServer({
      http1Port: 0,
      services: [catalogWith((req) => ({ product: { id: req.productId } }))],
    });
    expect(server.http1Port).toBeGreaterThan(0);
    const baseUrl = `http://127.0.0.1:${server.http1Port}`;
    for (const transport of [
      createConnectTransport({ httpVersion: "1.1", baseUrl }),
      createGrpcWebTransport({ httpVersion: "1.1", baseUrl }),
    ]) {
      const res = await createClient(CatalogService, transport).getProduct({ productId: validId });
      expect(res.product?.id).toBe(validId);
    }
  });
});
