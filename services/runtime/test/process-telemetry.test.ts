// Telemetry of a service that owns its process (runService, as every
// main.ts): the NodeSDK's global providers, resource detection and
// instrumentations, next to the runtime's own RPC spans. (Services embedded
// several to a process, as most tests run them, keep their own providers:
// telemetry.test.ts and tests/observability.)
import { spawn } from "node:child_process";
import * as http from "node:http";
import type { AddressInfo } from "node:net";
import { join } from "node:path";
import { createClient } from "@connectrpc/connect";
import { createConnectTransport } from "@connectrpc/connect-node";
import { CatalogService } from "@shop/gen/shop/catalog/v1/catalog_pb";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { LineWaiter } from "../../../scripts/start/line-waiter.ts";
import { freePort } from "../../../scripts/start/ports.ts";
import { startOtlpReceiver, type OtlpReceiver } from "../../../tests/observability/otlp-receiver.ts";
import { eventually } from "../../../tests/support/eventually.ts";

const TRACE_ID = "4bf92f3577b34da6a3ce929d0e0e4736";
const CALLER_SPAN = "00f067aa0ba902b7";

let receiver: OtlpReceiver;
let target: http.Server;
const targetHeaders = new Map<string, http.IncomingHttpHeaders>();

beforeAll(async () => {
  receiver = await startOtlpReceiver();
  target = http.createServer((req, res) => {
    targetHeaders.set(req.url ?? "", req.headers);
    res.end("ok");
  });
  await new Promise<void>((resolve) => target.listen(0, "127.0.0.1", resolve));
});

afterAll(async () => {
  await receiver.close();
  target.closeAllConnections();
  await new Promise((resolve) => target.close(resolve));
});

describe("a service process", () => {
  it("exports its RPC spans and its outgoing HTTP calls' spans through the NodeSDK, in one trace", async () => {
    const port = await freePort();
    const child = spawn(
      process.execPath,
      [
        "--experimental-transform-types",
        "--disable-warning=ExperimentalWarning",
        join(import.meta.dirname, "fixtures/traced-service.ts"),
      ],
      {
        env: {
          PATH: process.env.PATH,
          PORT: String(port),
          METRICS_PORT: "0",
          OTEL_EXPORTER_OTLP_ENDPOINT: receiver.endpoint,
          OTEL_BSP_SCHEDULE_DELAY: "50",
          OTEL_RESOURCE_ATTRIBUTES: "service.version=test-1",
          TARGET_URL: `http://127.0.0.1:${String((target.address() as AddressInfo).port)}`,
        },
        stdio: ["ignore", "pipe", "pipe"],
      },
    );
    const exited = new Promise<number | null>((resolve) => child.once("exit", (code) => resolve(code)));
    const output = new LineWaiter(exited, "the traced service");
    output.follow(child.stdout);
    output.follow(child.stderr);
    try {
      await output.waitFor(/traced serving/, { timeoutMs: 30_000 });
      const catalog = createClient(
        CatalogService,
        createConnectTransport({ baseUrl: `http://127.0.0.1:${String(port)}`, httpVersion: "2" }),
      );
      const productId = "0190a000-0000-7000-8000-000000000001";
      await catalog.getProduct({ productId }, { headers: { traceparent: `00-${TRACE_ID}-${CALLER_SPAN}-01` } });

      const inTrace = () => receiver.spans.filter((s) => s.traceId === TRACE_ID);
      await eventually("the server span and both HTTP client spans", () => inTrace().length >= 3);
      const server = inTrace().find((s) => s.kind === "server");
      // The RPC span is still the Connect interceptor's, with its rpc.* attributes.
      expect(server).toMatchObject({
        service: "traced",
        scope: "@shop/runtime",
        name: "shop.catalog.v1.CatalogService/GetProduct",
        parentSpanId: CALLER_SPAN,
        attributes: { "rpc.method": "GetProduct", "rpc.response.status_code": "OK" },
      });
      // The resource is the SDK's: detected (process, service instance) and from OTEL_RESOURCE_ATTRIBUTES.
      expect(server?.resource).toMatchObject({
        "service.name": "traced",
        "service.version": "test-1",
        "process.pid": child.pid,
      });
      expect(server?.resource["service.instance.id"]).toEqual(expect.any(String));
      // The instrumentations: fetch (undici) and node:http, children of the RPC's span.
      const clients = inTrace().filter((s) => s.kind === "client");
      expect(clients.map((s) => s.scope).sort()).toEqual([
        "@opentelemetry/instrumentation-http",
        "@opentelemetry/instrumentation-undici",
      ]);
      for (const span of clients) expect(span.parentSpanId).toBe(server?.spanId);
      // ...whose trace context went out with the requests (the SDK's propagator is the runtime's).
      for (const path of ["/by-fetch", "/by-http"]) {
        expect(targetHeaders.get(path)?.traceparent).toMatch(new RegExp(`^00-${TRACE_ID}-`));
      }
    } finally {
      child.kill("SIGTERM");
    }
    expect(await exited).toBe(0);
  });
});
