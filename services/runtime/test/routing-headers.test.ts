// The routing headers the mesh routes on travel with the work they belong to:
// from an incoming call to every call the handler makes, into the events it
// enqueues, and from a consumed event to the calls its handler makes.
import { Code, ConnectError } from "@connectrpc/connect";
import { CatalogService } from "@shop/gen/shop/catalog/v1/catalog_pb";
import { context } from "@opentelemetry/api";
import { describe, expect, it } from "vitest";
import { closeDependencyClients, createDependencyClients } from "../src/clients.ts";
import { createLogger } from "../src/log.ts";
import { ROUTING_HEADERS, routingHeadersOf } from "../src/routing-headers.ts";
import { implement } from "../src/server.ts";
import { eventProcessTelemetry } from "../src/telemetry/event-process-telemetry.ts";
import { rpcClientTelemetry } from "../src/telemetry/rpc-client-telemetry.ts";
import { ServiceTelemetry } from "../src/telemetry/service-telemetry.ts";
import { telemetrySettings } from "../src/telemetry/settings.ts";
import { contextFromEventHeaders, traceHeadersOf } from "../src/telemetry/trace-context.ts";
import { startTestServer } from "./test-server.ts";

const unused = () => {
  throw new ConnectError("not used in this test", Code.Unimplemented);
};
const catalogWith = (getProduct: Parameters<typeof implement<typeof CatalogService>>[1]["getProduct"]) =>
  implement(CatalogService, {
    getProduct,
    batchGetProducts: unused,
    listProducts: unused,
    searchProducts: unused,
    listCategories: unused,
    createProduct: unused,
    updateProduct: unused,
    watchCatalogChanges: unused,
  });

describe("routing headers", () => {
  const logger = createLogger("test", { level: "silent" });
  const telemetry = new ServiceTelemetry(
    telemetrySettings({ METRICS_PORT: "0" }, { name: "middle", port: 50099, host: "127.0.0.1" }),
    logger,
  );

  it("reach every downstream call, and the events enqueued meanwhile", async () => {
    const seenDownstream: (string | null)[][] = [];
    const back = await startTestServer({
      services: [
        catalogWith((req, ctx) => {
          seenDownstream.push([ctx.requestHeader.get("x-canary"), ctx.requestHeader.get("x-preview")]);
          return { product: { id: req.productId } };
        }),
      ],
    });
    const clients = createDependencyClients(
      { catalog: CatalogService },
      { catalog: back.url },
      { interceptors: [rpcClientTelemetry(telemetry)] },
    );
    const eventHeaders: Record<string, string>[] = [];
    const middle = await startTestServer({
      telemetry,
      services: [
        catalogWith(async (req) => {
          // What the outbox stores with an event enqueued here (its header providers use this).
          eventHeaders.push(traceHeadersOf(context.active()));
          return clients.catalog.getProduct(req);
        }),
      ],
    });
    try {
      const caller = createDependencyClients({ catalog: CatalogService }, { catalog: middle.url });
      await caller.catalog.getProduct(
        { productId: "0190a000-0000-7000-8000-000000000001" },
        { headers: { "x-canary": "v2" } },
      );
      await caller.catalog.getProduct(
        { productId: "0190a000-0000-7000-8000-000000000002" },
        { headers: { "x-preview": "Green" } },
      );
      await caller.catalog.getProduct({ productId: "0190a000-0000-7000-8000-000000000003" });
      // A value that is not a track name is not passed on.
      await caller.catalog.getProduct(
        { productId: "0190a000-0000-7000-8000-000000000004" },
        { headers: { "x-canary": "v2; drop table" } },
      );
      closeDependencyClients(caller);
      expect(seenDownstream).toEqual([
        ["v2", null],
        [null, "green"],
        [null, null],
        [null, null],
      ]);
      expect(eventHeaders[0]).toMatchObject({ [ROUTING_HEADERS.canary]: "v2" });
      expect(eventHeaders[1]).toMatchObject({ [ROUTING_HEADERS.preview]: "green" });
      expect(eventHeaders[2]).not.toHaveProperty(ROUTING_HEADERS.canary);
    } finally {
      closeDependencyClients(clients);
    }
  });

  it("come back out of a consumed event into the handler's calls", async () => {
    const { around } = eventProcessTelemetry(telemetry);
    const headers = { [ROUTING_HEADERS.canary]: "v2", "shop-event-id": "e1" };
    expect(routingHeadersOf(contextFromEventHeaders(headers))).toEqual({ "x-canary": "v2" });
    let inside: Record<string, string> = {};
    await around(
      {
        eventId: "e1",
        eventType: "shop.order.v1.OrderPlaced",
        subject: "events.shop.order.v1.OrderPlaced",
        consumer: "inventory-order-placed",
        stream: "EVENTS_ORDER",
        streamSequence: 1,
        deliveryCount: 1,
        headers,
        timestamp: new Date(),
      },
      async () => {
        inside = traceHeadersOf(context.active());
        return "processed";
      },
    );
    expect(inside).toMatchObject({ "x-canary": "v2" });
  });
});
