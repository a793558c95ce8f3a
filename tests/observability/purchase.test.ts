// Observability of one purchase, end to end, with every service running for
// real (in this process): sign up, sign in (once with a wrong password), tokenize a card,
// place an order, wait for CONFIRMED and the confirmation notification.
// Through the gateway's StorefrontService when the gateway exists, else
// against the services directly. Then:
//
//   - traces: the services export to an in-test OTLP/HTTP receiver; the order
//     is ONE trace, from the PlaceOrder call through every RPC and every event
//     hop, with the right parent/child links;
//   - metrics: each service's /metrics shows the RPC, event, outbox, consumer
//     and order metrics with the values this purchase implies;
//   - logs: every line (level trace) carries the service name, lines written
//     inside spans carry trace_id/span_id, and no password, JWT or card
//     number appears anywhere.
import { metricsQueried } from "../../mesh/generator/dashboards.ts";
import { existsSync } from "node:fs";
import { fileURLToPath } from "node:url";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { CatalogService } from "@shop/gen/shop/catalog/v1/catalog_pb";
import { IdentityService } from "@shop/gen/shop/identity/v1/identity_pb";
import { NotificationKind, NotificationService } from "@shop/gen/shop/notification/v1/notification_pb";
import { OrderService, OrderStatus } from "@shop/gen/shop/order/v1/order_pb";
import { PaymentService } from "@shop/gen/shop/payment/v1/payment_pb";
import { bearer, eventually, startSystem, uniqueId, type ServiceName, type TestSystem } from "../support/system.ts";
import { LogSink } from "./log-sink.ts";
import { startOtlpReceiver, type OtlpReceiver, type ReceivedSpan } from "./otlp-receiver.ts";
import { parsePrometheusText, samplesOf, total, type Sample } from "./prometheus-text.ts";

const WITH_GATEWAY = existsSync(fileURLToPath(new URL("../../services/gateway/src/service.ts", import.meta.url)));
const SERVICES: ServiceName[] = [
  "identity",
  "catalog",
  "inventory",
  "payment",
  "order",
  "notification",
  ...(WITH_GATEWAY ? (["gateway"] as const) : []),
];

const PASSWORD = `Pw-${uniqueId()}-never-logged`;
const CARD_NUMBER = "4242424242424242";
const JWT = /[A-Za-z0-9_-]{8,}\.[A-Za-z0-9_-]{8,}\.[A-Za-z0-9_-]{8,}/;

interface Purchase {
  orderId: string;
  accessToken: string;
  /** The span the trace starts from: the gateway's (or order's) PlaceOrder server span. */
  root: { service: ServiceName; name: string };
}

let receiver: OtlpReceiver;
let logs: LogSink;
let system: TestSystem;
let purchase: Purchase;

beforeAll(async () => {
  receiver = await startOtlpReceiver();
  logs = new LogSink();
  system = await startSystem(SERVICES, {
    env: { OTEL_EXPORTER_OTLP_ENDPOINT: receiver.endpoint, OTEL_BSP_SCHEDULE_DELAY: "100", LOG_LEVEL: "trace" },
    metrics: true,
    logs,
  });
  purchase = WITH_GATEWAY ? await purchaseThroughGateway(system) : await purchaseThroughServices(system);
});

afterAll(async () => {
  await system?.stop();
  await receiver?.close();
});

const nextYear = new Date().getUTCFullYear() + 1;
const card = { cardNumber: CARD_NUMBER, expMonth: 12, expYear: nextYear, cvc: "123", cardholderName: "Trace Buyer" };

async function purchaseThroughGateway(system: TestSystem): Promise<Purchase> {
  const { StorefrontService } = await import("@shop/gen/shop/storefront/v1/storefront_pb");
  const shop = system.client(StorefrontService);
  const email = `${uniqueId("buyer")}@shop.test`;
  await shop.signUp({ email, password: PASSWORD, displayName: "Trace Buyer" });
  await expect(shop.signIn({ email, password: `${PASSWORD}-wrong` })).rejects.toThrow();
  const { session } = await shop.signIn({ email, password: PASSWORD });
  const accessToken = session!.accessToken!.token;
  const auth = { headers: bearer(accessToken) };
  const product = (await shop.listProducts({ pageSize: 20 })).products.find((p) => p.available > 0n)!.product!;
  const { cardToken } = await shop.tokenizeCard(card, auth);
  const { order } = await shop.placeOrder(
    { idempotencyKey: uniqueId("key"), lines: [{ productId: product.id, quantity: 1 }], cardToken },
    auth,
  );
  await eventually(
    "the order CONFIRMED",
    async () => (await shop.getOrder({ orderId: order!.id }, auth)).order?.status === OrderStatus.CONFIRMED,
  );
  await eventually("the confirmation notification", async () =>
    (await shop.listNotifications({}, auth)).notifications.some(
      (n) => n.kind === NotificationKind.ORDER_CONFIRMED && n.orderId === order!.id,
    ),
  );
  return {
    orderId: order!.id,
    accessToken,
    root: { service: "gateway", name: "shop.storefront.v1.StorefrontService/PlaceOrder" },
  };
}

async function purchaseThroughServices(system: TestSystem): Promise<Purchase> {
  const identity = system.client(IdentityService);
  const email = `${uniqueId("buyer")}@shop.test`;
  await identity.register({ email, password: PASSWORD, displayName: "Trace Buyer" });
  await expect(identity.login({ email, password: `${PASSWORD}-wrong` })).rejects.toThrow();
  const accessToken = (await identity.login({ email, password: PASSWORD })).accessToken!.token;
  const auth = { headers: bearer(accessToken) };
  const product = (await system.client(CatalogService).listProducts({ pageSize: 1 })).products[0];
  const { cardToken } = await system.client(PaymentService).tokenizeCard(card, auth);
  const orders = system.client(OrderService);
  const { order } = await orders.placeOrder(
    { idempotencyKey: uniqueId("key"), lines: [{ productId: product.id, quantity: 1 }], cardToken },
    auth,
  );
  await eventually(
    "the order CONFIRMED",
    async () => (await orders.getOrder({ orderId: order!.id }, auth)).order?.status === OrderStatus.CONFIRMED,
  );
  await eventually("the confirmation notification", async () =>
    (await system.client(NotificationService).listNotifications({}, auth)).notifications.some(
      (n) => n.kind === NotificationKind.ORDER_CONFIRMED && n.orderId === order!.id,
    ),
  );
  return { orderId: order!.id, accessToken, root: { service: "order", name: "shop.order.v1.OrderService/PlaceOrder" } };
}

/** A trace's spans, indexed for walking up parent links. */
class Trace {
  readonly byId: Map<string, ReceivedSpan>;
  constructor(readonly spans: ReceivedSpan[]) {
    this.byId = new Map(spans.map((s) => [s.spanId, s]));
  }
  parentOf(span: ReceivedSpan): ReceivedSpan | undefined {
    return this.byId.get(span.parentSpanId);
  }
  ancestorsOf(span: ReceivedSpan): ReceivedSpan[] {
    const out: ReceivedSpan[] = [];
    for (let s = this.parentOf(span); s; s = this.parentOf(s)) out.push(s);
    return out;
  }
  one(what: string, match: (s: ReceivedSpan) => boolean): ReceivedSpan {
    const found = this.spans.filter(match);
    expect(found, what).toHaveLength(1);
    return found[0];
  }
  rpc(service: string, kind: "server" | "client", method: string): ReceivedSpan {
    return this.one(
      `${service} ${kind} span ${method}`,
      (s) => s.service === service && s.kind === kind && s.name === method,
    );
  }
  /** The publish (producer) or process (consumer) span of an event type in a service. */
  event(service: string, kind: "producer" | "consumer", eventType: string): ReceivedSpan {
    return this.one(
      `${service} ${kind} span for ${eventType}`,
      (s) => s.service === service && s.kind === kind && s.attributes["shop.event.type"] === eventType,
    );
  }
}

const SAGA_EVENTS = [
  "shop.order.v1.OrderPlaced",
  "shop.inventory.v1.StockReserved",
  "shop.payment.v1.PaymentCaptured",
  "shop.order.v1.OrderConfirmed",
  "shop.inventory.v1.StockCommitted",
];

describe("one purchase", () => {
  it("is one trace from PlaceOrder through every RPC and event hop, correctly linked", async () => {
    const root = await eventually("the root PlaceOrder span", () =>
      receiver.spans.find(
        (s) => s.service === purchase.root.service && s.kind === "server" && s.name === purchase.root.name,
      ),
    );
    const isSagaEvent = (s: ReceivedSpan) => SAGA_EVENTS.includes(String(s.attributes["shop.event.type"]));
    // Wait for the last hops, and for every span's parent to have been exported.
    const trace = await eventually("the whole saga in one trace", () => {
      const t = new Trace(receiver.spans.filter((s) => s.traceId === root.traceId));
      const processed = (service: string, eventType: string) =>
        t.spans.some(
          (s) => s.service === service && s.kind === "consumer" && s.attributes["shop.event.type"] === eventType,
        );
      const lastHops =
        processed("notification", "shop.order.v1.OrderConfirmed") &&
        processed("inventory", "shop.order.v1.OrderConfirmed") &&
        processed("order", "shop.inventory.v1.StockCommitted");
      const linked = t.spans.every((s) => s === root || t.byId.has(s.parentSpanId));
      return lastHops && linked ? t : undefined;
    });

    // One trace: the root has no parent, and every publish/process span of
    // this order's saga events (the only order in this system) is in it.
    expect(root.parentSpanId).toBe("");
    const sagaSpans = receiver.spans.filter((s) => (s.kind === "producer" || s.kind === "consumer") && isSagaEvent(s));
    expect(new Set(sagaSpans.map((s) => s.traceId))).toEqual(new Set([root.traceId]));
    expect(new Set(trace.spans.map((s) => s.service))).toEqual(new Set(SERVICES));

    // The synchronous part: gateway → order → identity and catalog.
    const placeOrder = trace.rpc("order", "server", "shop.order.v1.OrderService/PlaceOrder");
    if (WITH_GATEWAY) {
      const call = trace.rpc("gateway", "client", "shop.order.v1.OrderService/PlaceOrder");
      expect(trace.parentOf(placeOrder)).toBe(call);
      expect(trace.parentOf(call)).toBe(root);
    } else {
      expect(placeOrder).toBe(root);
    }
    for (const [service, method] of [
      ["identity", "shop.identity.v1.IdentityService/GetUser"],
      ["catalog", "shop.catalog.v1.CatalogService/BatchGetProducts"],
    ] as const) {
      const client = trace.rpc("order", "client", method);
      const server = trace.rpc(service, "server", method);
      expect(trace.parentOf(client)).toBe(placeOrder);
      expect(trace.parentOf(server)).toBe(client);
      expect(client.attributes).toMatchObject({
        "rpc.system": "connect_rpc",
        "rpc.method": method.split("/")[1],
        "rpc.response.status_code": "OK",
      });
      expect(client.attributes["server.port"]).toBe(Number(new URL(system.url(service)).port));
      expect(server.attributes).toMatchObject({
        "rpc.service": method.split("/")[0],
        "rpc.response.status_code": "OK",
      });
    }
    expect(placeOrder.attributes).toMatchObject({
      "rpc.service": "shop.order.v1.OrderService",
      "rpc.method": "PlaceOrder",
      "rpc.response.status_code": "OK",
    });

    // The asynchronous part: each process span is the child of the publish
    // span of its event, and each publish span descends from whatever
    // enqueued the event (the RPC, or the handler of the previous event).
    const hop = (publisher: string, consumer: string, eventType: string, enqueuedIn: ReceivedSpan) => {
      const publish = trace.event(publisher, "producer", eventType);
      const process = trace.event(consumer, "consumer", eventType);
      expect(trace.parentOf(process), `${consumer} processing ${eventType}`).toBe(publish);
      expect(trace.ancestorsOf(publish), `${publisher} publishing ${eventType}`).toContain(enqueuedIn);
      expect(publish.attributes).toMatchObject({ "messaging.system": "nats", "messaging.operation.type": "send" });
      expect(process.attributes).toMatchObject({
        "messaging.system": "nats",
        "messaging.operation.type": "process",
        "messaging.message.id": publish.attributes["messaging.message.id"],
        "messaging.destination.name": publish.attributes["messaging.destination.name"],
        "shop.event.outcome": "processed",
      });
      expect(String(process.attributes["messaging.destination.name"]).endsWith(eventType)).toBe(true);
      return process;
    };
    const reserving = hop("order", "inventory", "shop.order.v1.OrderPlaced", placeOrder);
    const charging = hop("inventory", "payment", "shop.inventory.v1.StockReserved", reserving);
    const confirming = hop("payment", "order", "shop.payment.v1.PaymentCaptured", charging);
    hop("order", "notification", "shop.order.v1.OrderConfirmed", confirming);
    const committing = hop("order", "inventory", "shop.order.v1.OrderConfirmed", confirming);
    hop("inventory", "order", "shop.inventory.v1.StockCommitted", committing);

    // Database spans, under the RPC and under event handlers; parameter values never recorded.
    const queries = trace.spans.filter((s) => s.attributes["db.system.name"] === "postgresql");
    const insertOrder = queries.find((s) => s.service === "order" && s.name === "INSERT orders");
    expect(insertOrder && trace.ancestorsOf(insertOrder)).toContain(placeOrder);
    expect(queries.some((s) => s.service === "inventory" && trace.ancestorsOf(s).includes(reserving))).toBe(true);
    expect(insertOrder!.attributes).toMatchObject({
      "db.operation.name": "INSERT",
      "db.collection.name": "orders",
      "db.namespace": `${system.id}_order`,
    });
    for (const q of queries) expect(String(q.attributes["db.query.text"])).not.toContain(purchase.orderId);
  });

  it("shows RED, event, outbox, consumer and order metrics on every service's /metrics", async () => {
    const scrape = async (service: ServiceName): Promise<Sample[]> => {
      const res = await fetch(system.metricsUrl(service));
      expect(res.status).toBe(200);
      return parsePrometheusText(await res.text());
    };
    const served = (samples: Sample[], service: string, method: string) =>
      total(samples, "rpc_server_requests_total", {
        rpc_service: service,
        rpc_method: method,
        rpc_response_status_code: "OK",
      });
    const processed = (samples: Sample[], consumer: RegExp) =>
      total(samples, "shop_consumer_messages_total", { consumer, outcome: "processed" });
    const sent = (samples: Sample[], eventType: string) =>
      total(samples, "messaging_client_sent_messages_total", {
        messaging_destination_name: new RegExp(`\\.${eventType}$`),
      });

    // Eventually: the last consumers' counters move just after their acks.
    const byService = await eventually("every service's metrics", async () => {
      const all = Object.fromEntries(
        await Promise.all(SERVICES.map(async (s) => [s, await scrape(s)] as const)),
      ) as Record<ServiceName, Sample[]>;
      return processed(all.inventory, /-order-confirmed$/) >= 1 &&
        processed(all.order, /-stock-committed$/) >= 1 &&
        total(all.order, "shop_outbox_unpublished_events") === 0
        ? all
        : undefined;
    });
    const { identity, catalog, inventory, payment, order, notification } = byService;

    // RED per method: requests by code, and the duration histogram.
    expect(served(order, "shop.order.v1.OrderService", "PlaceOrder")).toBe(1);
    expect(total(order, "rpc_server_call_duration_seconds_count", { rpc_method: "PlaceOrder" })).toBe(1);
    expect(total(order, "rpc_server_call_duration_seconds_sum", { rpc_method: "PlaceOrder" })).toBeGreaterThan(0);
    expect(
      total(order, "rpc_client_requests_total", { rpc_method: "BatchGetProducts", rpc_response_status_code: "OK" }),
    ).toBe(1);
    expect(served(identity, "shop.identity.v1.IdentityService", "GetUser")).toBeGreaterThanOrEqual(1);
    expect(
      total(identity, "rpc_server_requests_total", {
        rpc_method: "Login",
        rpc_response_status_code: "UNAUTHENTICATED",
      }),
    ).toBe(1);
    expect(served(catalog, "shop.catalog.v1.CatalogService", "BatchGetProducts")).toBe(1);
    expect(served(payment, "shop.payment.v1.PaymentService", "TokenizeCard")).toBe(1);
    expect(
      served(notification, "shop.notification.v1.NotificationService", "ListNotifications"),
    ).toBeGreaterThanOrEqual(1);
    if (WITH_GATEWAY) {
      expect(served(byService.gateway, "shop.storefront.v1.StorefrontService", "PlaceOrder")).toBe(1);
      expect(
        total(byService.gateway, "rpc_client_requests_total", {
          rpc_service: "shop.order.v1.OrderService",
          rpc_method: "PlaceOrder",
        }),
      ).toBe(1);
    }

    // Orders by outcome and the saga's duration.
    expect(total(order, "shop_orders_completed_total", { outcome: "confirmed" })).toBe(1);
    expect(total(order, "shop_orders_completed_total", { outcome: "cancelled" })).toBe(0);
    expect(total(order, "shop_order_saga_duration_seconds_count", { outcome: "confirmed" })).toBe(1);
    expect(total(order, "shop_order_saga_duration_seconds_sum", { outcome: "confirmed" })).toBeGreaterThan(0);

    // Events published, and the outbox drained.
    expect(sent(identity, "UserRegistered")).toBeGreaterThanOrEqual(1); // the buyer (and the admin identity creates)
    expect(sent(order, "OrderPlaced")).toBe(1);
    expect(sent(order, "OrderConfirmed")).toBe(1);
    expect(sent(inventory, "StockReserved")).toBe(1);
    expect(sent(payment, "PaymentCaptured")).toBe(1);
    expect(total(order, "shop_outbox_publish_delay_seconds_count")).toBe(2);
    for (const samples of [identity, catalog, inventory, payment, order]) {
      expect(samplesOf(samples, "shop_outbox_unpublished_events")).toHaveLength(1);
      expect(samplesOf(samples, "shop_outbox_oldest_unpublished_age_seconds")).toHaveLength(1);
    }

    // Consumers: outcomes, no redeliveries or dead letters, lag sampled from JetStream.
    expect(processed(inventory, /^inventory-order-placed$/)).toBe(1);
    expect(processed(payment, /^payment-stock-reserved$/)).toBe(1);
    expect(processed(order, /^order-payment-captured$/)).toBe(1);
    expect(processed(notification, /^notification-order-confirmed$/)).toBe(1);
    expect(processed(notification, /^notification-user-registered$/)).toBeGreaterThanOrEqual(1);
    for (const samples of [inventory, payment, order, notification]) {
      expect(total(samples, "shop_consumer_redeliveries_total")).toBe(0);
      expect(total(samples, "shop_consumer_messages_total", { outcome: /retry|dead-lettered/ })).toBe(0);
      const lag = samplesOf(samples, "shop_consumer_pending_messages");
      expect(lag.length).toBeGreaterThan(0);
      for (const s of lag) expect(s.value).toBeGreaterThanOrEqual(0);
      const parked = samplesOf(samples, "shop_dead_letters");
      expect(parked.map((s) => s.labels.consumer).sort()).toEqual(lag.map((s) => s.labels.consumer).sort());
      expect(parked.every((s) => s.value === 0)).toBe(true);
    }
    // Every metric and label the dev Grafana dashboards query (mesh/generator/dashboards.ts) is served;
    // app, version and pod are the labels Prometheus adds from the pod (mesh/base/dev/prometheus.yaml).
    const everything = Object.values(byService).flat();
    for (const [metric, labels] of metricsQueried()) {
      const series = everything.filter((x) => x.name === metric);
      expect(series.length, `${metric} (a dashboard queries it)`).toBeGreaterThan(0);
      for (const label of labels) {
        // reason: only on cancelled orders, and this purchase is confirmed.
        if (["app", "version", "pod", "reason"].includes(label)) continue;
        expect(
          series.some((x) => label in x.labels),
          `${metric}{${label}} (a dashboard queries it)`,
        ).toBe(true);
      }
    }
    expect(samplesOf(inventory, "shop_consumer_pending_messages", { consumer: "inventory-order-placed" })).toEqual([
      expect.objectContaining({ value: 0 }),
    ]);
  });

  it("logs JSON lines with the service name and trace ids, and never a password, token or card number", () => {
    const records = logs.records();
    expect(records.length).toBeGreaterThan(50);
    expect(new Set(records.map((r) => r.service))).toEqual(new Set(SERVICES));

    // Correlated: the access-log line of the order's PlaceOrder carries the trace and span ids.
    const root = receiver.spans.find((s) => s.service === purchase.root.service && s.name === purchase.root.name)!;
    const placeOrderLine = records.find(
      (r) => r.service === "order" && r.msg === "rpc" && (r.rpc as { method?: string }).method === "PlaceOrder",
    );
    expect(placeOrderLine).toMatchObject({ trace_id: root.traceId, span_id: expect.stringMatching(/^[0-9a-f]{16}$/) });
    // Lines written while handling the order, in every service that logs something then
    // (access-log lines of RPCs, handler lines of events), share the trace id.
    const correlated = new Set(records.filter((r) => r.trace_id === root.traceId).map((r) => r.service));
    for (const service of [
      "order",
      "identity",
      "catalog",
      "inventory",
      "payment",
      ...(WITH_GATEWAY ? ["gateway"] : []),
    ]) {
      expect(correlated, `${service} logs in the order's trace`).toContain(service);
    }

    const text = logs.lines.join("\n");
    expect(text).not.toContain(PASSWORD);
    expect(text).not.toContain(purchase.accessToken);
    expect(text).not.toContain(CARD_NUMBER);
    expect(text).not.toMatch(/4242[ -]?4242[ -]?4242[ -]?4242/);
    const jwtLike = logs.lines.filter((l) => JWT.test(l));
    expect(jwtLike, "lines containing something shaped like a JWT").toEqual([]);
  });
});
