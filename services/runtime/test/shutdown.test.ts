// Graceful shutdown: in-flight calls finish, streams are told to end, health
// turns NOT_SERVING, and a SIGTERM'd process exits 0.
import { spawn } from "node:child_process";
import { createInterface } from "node:readline";
import { join } from "node:path";
import { Code, ConnectError, createClient } from "@connectrpc/connect";
import { createConnectTransport, createGrpcTransport } from "@connectrpc/connect-node";
import { CatalogService } from "@shop/gen/shop/catalog/v1/catalog_pb";
import { OrderService } from "@shop/gen/shop/order/v1/order_pb";
import { describe, expect, it } from "vitest";
import { Health, ServingStatus } from "../src/health.ts";
import { drainSignalKey, implement } from "../src/server.ts";
import { deferred, startTestServer } from "./test-server.ts";

const validId = "0190a000-0000-7000-8000-000000000001";
const unused = () => {
  throw new ConnectError("not used in this test", Code.Unimplemented);
};

function slowCatalog(entered: () => void, release: Promise<void>) {
  return implement(CatalogService, {
    async getProduct(req) {
      entered();
      await release;
      return { product: { id: req.productId } };
    },
    batchGetProducts: unused,
    listProducts: unused,
    searchProducts: unused,
    listCategories: unused,
    createProduct: unused,
    updateProduct: unused,
    watchCatalogChanges: unused,
  });
}

describe("stop()", () => {
  it("lets a call that started before stop() finish with its response", async () => {
    const entered = deferred();
    const release = deferred();
    const server = await startTestServer({ services: [slowCatalog(entered.resolve, release.promise)] });
    const client = createClient(CatalogService, createConnectTransport({ httpVersion: "2", baseUrl: server.url }));

    const call = client.getProduct({ productId: validId });
    await entered.promise;
    let stopped = false;
    const stopping = server.stop().then(() => (stopped = true));

    expect(server.health.get("")).toBe(ServingStatus.NOT_SERVING);
    expect(server.health.get("shop.catalog.v1.CatalogService")).toBe(ServingStatus.NOT_SERVING);
    expect(stopped).toBe(false);

    release.resolve();
    await expect(call).resolves.toMatchObject({ product: { id: validId } });
    await stopping;
    expect(stopped).toBe(true);

    // Not accepting any more: a fresh client cannot connect.
    const fresh = createClient(CatalogService, createConnectTransport({ httpVersion: "2", baseUrl: server.url }));
    await expect(fresh.getProduct({ productId: validId })).rejects.toMatchObject({ code: Code.Unavailable });
  });

  it("cuts off calls still running after the drain timeout, and still resolves", async () => {
    const entered = deferred();
    const never = deferred();
    const server = await startTestServer({
      drainTimeoutMs: 200,
      services: [slowCatalog(entered.resolve, never.promise)],
    });
    const client = createClient(CatalogService, createGrpcTransport({ baseUrl: server.url }));
    // Settled into a value right away: the call fails while stop() is awaited.
    const outcome = client.getProduct({ productId: validId }).then(
      () => "answered",
      (err: unknown) => err,
    );
    await entered.promise;
    await server.stop();
    expect(await outcome).toBeInstanceOf(ConnectError);
    expect(server.lines.some((l) => l.msg === "drain timeout: cancelling remaining calls")).toBe(true);
    never.resolve();
  });

  it("ends health Watch streams after sending NOT_SERVING", async () => {
    const server = await startTestServer({ services: [] });
    const health = createClient(Health, createGrpcTransport({ baseUrl: server.url }));
    const statuses: ServingStatus[] = [];
    for await (const res of health.watch({ service: "" })) {
      statuses.push(res.status);
      if (statuses.length === 1) void server.stop();
    }
    expect(statuses).toEqual([ServingStatus.SERVING, ServingStatus.NOT_SERVING]);
  });

  it("tells streaming handlers to finish through the drain signal", { timeout: 15_000 }, async () => {
    const server = await startTestServer({
      drainTimeoutMs: 30_000,
      services: [
        implement(OrderService, {
          placeOrder: unused,
          getOrder: unused,
          listOrders: unused,
          cancelOrder: unused,
          async *watchOrder(req, ctx) {
            yield { order: { id: req.orderId } };
            const drain = ctx.values.get(drainSignalKey);
            await new Promise((resolve) => drain.addEventListener("abort", resolve, { once: true }));
          },
        }),
      ],
    });
    const client = createClient(OrderService, createConnectTransport({ httpVersion: "2", baseUrl: server.url }));
    let received = 0;
    let stopping: Promise<void> | undefined;
    for await (const _ of client.watchOrder({ orderId: validId })) {
      received++;
      stopping = server.stop();
    }
    expect(received).toBe(1);
    await stopping;
    // Ended by the drain signal, well before the 30 s drain timeout.
    expect(server.lines.some((l) => l.msg === "drain timeout: cancelling remaining calls")).toBe(false);
  });
});

describe("handleSignals", () => {
  it("stops the server on SIGTERM and exits 0", async () => {
    const child = spawn(
      process.execPath,
      [
        "--experimental-transform-types",
        "--disable-warning=ExperimentalWarning",
        join(import.meta.dirname, "fixtures/serve.ts"),
      ],
      { stdio: ["ignore", "pipe", "inherit"] },
    );
    const messages: string[] = [];
    const lines = createInterface({ input: child.stdout });
    const exited = new Promise<number | null>((resolve) => child.once("exit", (code) => resolve(code)));
    for await (const line of lines) {
      const entry = JSON.parse(line) as { msg: string };
      messages.push(entry.msg);
      if (entry.msg === "ready") child.kill("SIGTERM");
    }
    expect(await exited).toBe(0);
    expect(messages).toEqual(
      expect.arrayContaining(["listening", "ready", "shutting down", "draining", "stopped", "fixture closed"]),
    );
    // The stop functions ran in the order given.
    expect(messages.indexOf("fixture closed")).toBeGreaterThan(messages.indexOf("stopped"));
  });
});
