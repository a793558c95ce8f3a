// Telemetry that needs no collector to observe: trace context passed through
// a service that exports nothing, and what the logger refuses to write. The
// exported traces and the metrics of a whole purchase are tested in
// tests/observability.
import { Writable } from "node:stream";
import { Code, ConnectError, createClient } from "@connectrpc/connect";
import { createConnectTransport } from "@connectrpc/connect-node";
import { CatalogService } from "@shop/gen/shop/catalog/v1/catalog_pb";
import { context } from "@opentelemetry/api";
import { describe, expect, it } from "vitest";
import { closeDependencyClients, createDependencyClients } from "../src/clients.ts";
import { createLogger } from "../src/log.ts";
import { implement } from "../src/server.ts";
import { rpcClientTelemetry } from "../src/telemetry/rpc-client-telemetry.ts";
import { ServiceTelemetry } from "../src/telemetry/service-telemetry.ts";
import { telemetrySettings } from "../src/telemetry/settings.ts";
import { traceHeadersOf } from "../src/telemetry/trace-context.ts";
import { startTestServer } from "./test-server.ts";

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

function logSink() {
  const lines: Record<string, unknown>[] = [];
  const text: string[] = [];
  const stream = new Writable({
    write(chunk: Buffer, _encoding, done) {
      for (const line of chunk.toString().split("\n").filter(Boolean)) {
        text.push(line);
        lines.push(JSON.parse(line) as Record<string, unknown>);
      }
      done();
    },
  });
  return { lines, text, stream };
}

const productId = "0190a000-0000-7000-8000-000000000001";

describe("a service without an OTLP endpoint", () => {
  it("records nothing but passes its caller's trace context on: downstream calls, enqueued events, log lines", async () => {
    const logs = logSink();
    const logger = createLogger("middle", { level: "info", destination: logs.stream });
    const telemetry = new ServiceTelemetry(
      telemetrySettings({ METRICS_PORT: "0" }, { name: "middle", port: 50099, host: "127.0.0.1" }),
      logger,
    );
    expect(telemetry.tracing).toBe(false);

    let seenDownstream: string | null = null;
    const downstream = await startTestServer({
      services: [
        catalogWith((_req, ctx) => {
          seenDownstream = ctx.requestHeader.get("traceparent");
          return { product: { id: productId } };
        }),
      ],
    });
    const clients = createDependencyClients(
      { catalog: CatalogService },
      { catalog: downstream.url },
      { env: {}, interceptors: [rpcClientTelemetry(telemetry)] },
    );
    let enqueuedWith: Record<string, string> = {};
    const middle = await startTestServer({
      telemetry,
      services: [
        catalogWith(async (req) => {
          enqueuedWith = traceHeadersOf(context.active()); // what the outbox would store
          logger.info("handling");
          return clients.catalog.getProduct(req);
        }),
      ],
    });

    const traceId = "4bf92f3577b34da6a3ce929d0e0e4736";
    const traceparent = `00-${traceId}-00f067aa0ba902b7-01`;
    const client = createClient(CatalogService, createConnectTransport({ httpVersion: "2", baseUrl: middle.url }));
    await client.getProduct({ productId }, { headers: { traceparent } });
    closeDependencyClients(clients);
    await telemetry.shutdown();

    expect(seenDownstream).toBe(traceparent);
    expect(enqueuedWith.traceparent).toBe(traceparent);
    expect(logs.lines.find((l) => l.msg === "handling")).toMatchObject({
      service: "middle",
      trace_id: traceId,
      span_id: "00f067aa0ba902b7",
    });
  });
});

describe("the logger", () => {
  it("redacts passwords, tokens, authorization headers and card numbers, and drops failed queries' parameters", () => {
    const logs = logSink();
    const logger = createLogger("identity", { destination: logs.stream });
    logger.info({ password: "hunter2-top", user: { email: "a@b.c", newPassword: "hunter3-top" } }, "sign-up");
    logger.info(
      {
        req: { headers: { authorization: "Bearer eyJhbGciOi.eyJzdWIiOi.c2lnbmF0dXJl" } },
        accessToken: "eyJx.eyJy.zzz",
      },
      "call",
    );
    logger.info({ card: { cardNumber: "4242424242424242", cvc: "123", cardToken: "tok_secret" } }, "card");
    const failed = Object.assign(
      new Error(
        'Failed query: insert into "users" ("email", "password_hash") values ($1, $2)\nparams: a@b.c,$argon2id$secret-hash',
      ),
      {
        params: ["a@b.c", "$argon2id$secret-hash"],
      },
    );
    logger.error({ err: failed }, "unhandled error in rpc handler");

    const text = logs.text.join("\n");
    for (const secret of [
      "hunter2-top",
      "hunter3-top",
      "eyJ",
      "4242424242424242",
      '"123"',
      "tok_secret",
      "secret-hash",
    ]) {
      expect(text, secret).not.toContain(secret);
    }
    expect(logs.lines[0]).toMatchObject({
      password: "[redacted]",
      user: { email: "a@b.c", newPassword: "[redacted]" },
    });
    expect((logs.lines[3].err as { message: string }).message).toContain('insert into "users"');
  });

  it("redacts inside arrays and four objects deep, not deeper, and never changes the caller's objects", () => {
    const logs = logSink();
    const logger = createLogger("payment", { destination: logs.stream });
    const fields = {
      attempts: [{ cardToken: "tok_in_array" }, "plain"],
      a: { b: { c: { token: "deep-enough" } } },
      w: { x: { y: { z: { token: "too-deep-to-search" } } } },
    };
    logger.info(fields, "attempts");
    expect(logs.lines[0]).toMatchObject({
      attempts: [{ cardToken: "[redacted]" }, "plain"],
      a: { b: { c: { token: "[redacted]" } } },
      w: { x: { y: { z: { token: "too-deep-to-search" } } } },
    });
    expect(fields.attempts[0]).toEqual({ cardToken: "tok_in_array" });
    expect(fields.a.b.c.token).toBe("deep-enough");
  });
});
