// Regression tests for issue 11: each hostile input that once crashed a
// service, ran it out of memory or produced Internal, sent to the whole
// shop running as real processes (as `npm start` runs them). After each,
// the process is alive, answers SERVING, and its resident memory has not
// grown without bound. The times and memory figures are printed (a target
// of "under a second" belongs in figures, not in assertions that fail on a
// busy machine; the bounds asserted here are generous).
import { readFileSync } from "node:fs";
import { create, toBinary, type DescMessage } from "@bufbuild/protobuf";
import { Code, createClient } from "@connectrpc/connect";
import { createGrpcTransport } from "@connectrpc/connect-node";
import { CatalogService } from "@shop/gen/shop/catalog/v1/catalog_pb";
import { IdentityService } from "@shop/gen/shop/identity/v1/identity_pb";
import { InventoryService } from "@shop/gen/shop/inventory/v1/inventory_pb";
import { DeadLetterService } from "@shop/gen/shop/ops/v1/dead_letters_pb";
import { OrderService } from "@shop/gen/shop/order/v1/order_pb";
import { StorefrontService } from "@shop/gen/shop/storefront/v1/storefront_pb";
import {
  Health,
  HealthCheckResponse_ServingStatus as ServingStatus,
} from "@shop/runtime/grpc-gen/grpc/health/v1/health_pb";
import type { ServiceManifest } from "@shop/runtime/manifest";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { discoverManifests } from "../../scripts/start/services.ts";
import { expectCode } from "../support/expect-code.ts";
import { startProcessSystem, type ProcessSystem } from "../support/processes.ts";
import { rawCall, rawUpload, type WireProtocol } from "../support/raw-rpc.ts";
import { bearer, type Account, type ServiceName } from "../support/system.ts";

const MiB = 1024 * 1024;
/** Growth of a service's resident memory we accept after an attack; the attacks once cost 300+ MB. */
const RSS_GROWTH_LIMIT = 64 * MiB;

let system: ProcessSystem;
let manifests: ServiceManifest[];
let customer: Account;
let admin: string;

beforeAll(async () => {
  manifests = await discoverManifests();
  system = await startProcessSystem();
  customer = await system.signUp("Hostile Input");
  admin = await system.adminToken();
}, 180_000);

afterAll(async () => {
  await system.stop();
});

function rss(name: ServiceName): number {
  const pid = system.pid(name);
  if (pid === undefined) throw new Error(`${name} is not running`);
  const line = /^VmRSS:\s+(\d+) kB$/m.exec(readFileSync(`/proc/${String(pid)}/status`, "utf8"));
  return Number(line?.[1]) * 1024;
}

async function expectHealthy(name: ServiceName): Promise<void> {
  expect(system.running(name), `${name} is running`).toBe(true);
  const health = createClient(Health, createGrpcTransport({ baseUrl: system.url(name) }));
  expect((await health.check({})).status, `${name} answers SERVING`).toBe(ServingStatus.SERVING);
}

/** Runs `attack` against `name`, then checks it is healthy and did not grow; prints the figures. */
async function survives(name: ServiceName, what: string, attack: () => Promise<number>): Promise<void> {
  const before = rss(name);
  const ms = await attack();
  await expectHealthy(name);
  const after = rss(name);
  console.log(
    `${name}: ${what}: answered in ${ms.toFixed(0)} ms; RSS ${(before / MiB).toFixed(0)} -> ${(after / MiB).toFixed(0)} MB (load ${loadAverage()})`,
  );
  expect(after - before).toBeLessThan(RSS_GROWTH_LIMIT);
}

function loadAverage(): string {
  return readFileSync("/proc/loadavg", "utf8").split(" ").slice(0, 3).join(" ");
}

function encode<S extends DescMessage>(schema: S, init: Parameters<typeof create<S>>[1]): Uint8Array {
  return toBinary(schema, create(schema, init));
}

const path = (service: { typeName: string }, method: string) => `/${service.typeName}/${method}`;

describe("case 1: a 90 KB batch call of 30,000 ids", () => {
  // 30,000 ids are past the method's read limit (64 KiB: its contract allows
  // 100 ids) and refused by size before they are decoded; 20,000 (60 KB)
  // fit, are decoded, and are refused by validation with one violation.
  const sizes = [
    { count: 30_000, code: Code.ResourceExhausted, says: "readMaxBytes 65536" },
    { count: 20_000, code: Code.InvalidArgument, says: "no more than 100 item(s)" },
  ];
  const batches = [
    { name: "catalog" as const, service: CatalogService, method: "BatchGetProducts" },
    { name: "inventory" as const, service: InventoryService, method: "BatchGetStock" },
  ];
  for (const { name, service, method } of batches) {
    for (const { count, code, says } of sizes) {
      for (const protocol of ["connect", "grpc"] satisfies WireProtocol[]) {
        it(`${service.typeName}/${method} of ${String(count)} ids over ${protocol}: ${Code[code]}, process alive and SERVING, memory bounded`, async () => {
          const input = service.methods.find((m) => m.name === method)?.input;
          if (!input) throw new Error(`${service.typeName} has no ${method}`);
          const body = encode(input, { productIds: Array.from({ length: count }, () => "x") });
          expect(body.byteLength).toBe(3 * count);
          await survives(name, `${method} with ${String(count)} ids over ${protocol}, 5 times`, async () => {
            let slowest = 0;
            for (let i = 0; i < 5; i++) {
              const answer = await rawCall({
                baseUrl: system.url(name),
                path: path(service, method),
                protocol,
                format: "proto",
                streaming: false,
                body,
              });
              expect(answer.code).toBe(code);
              expect(answer.message).toContain(says);
              expect(answer.bytes).toBeLessThan(2048);
              slowest = Math.max(slowest, answer.ms);
            }
            return slowest;
          });
        });
      }
    }
  }
});

describe("case 2: 100 MiB and 200 MiB requests", () => {
  for (const size of [100 * MiB, 200 * MiB]) {
    const mib = String(size / MiB);
    it(`every deployable refuses ${mib} MiB over Connect and gRPC with ResourceExhausted, without reading it`, async () => {
      for (const m of manifests) {
        const name = m.name as ServiceName;
        // Health is served by every deployable, so each is sent the same call.
        for (const contentType of ["application/proto", "application/grpc"]) {
          await survives(name, `${mib} MiB ${contentType}`, async () => {
            const answer = await rawUpload({
              baseUrl: system.url(name),
              path: path(Health, "Check"),
              contentType,
              total: size,
            });
            expect(answer.code, `${name} ${contentType}`).toBe(Code.ResourceExhausted);
            expect(answer.sent).toBeLessThan(32 * MiB);
            return answer.ms;
          });
        }
      }
    });

    it(`the gateway refuses ${mib} MiB of JSON over HTTP/1.1 with ResourceExhausted`, async () => {
      await survives("gateway", `${mib} MiB JSON over HTTP/1.1`, async () => {
        const answer = await rawUpload({
          baseUrl: system.url("gateway"),
          path: path(StorefrontService, "SearchProducts"),
          contentType: "application/json",
          total: size,
          http1: true,
        });
        expect(answer.code).toBe(Code.ResourceExhausted);
        expect(answer.httpStatus).toBe(429);
        return answer.ms;
      });
    });
  }

  it("the gateway refuses two 150 MiB requests at once and stays within its memory", async () => {
    await survives("gateway", "two 150 MiB JSON requests at once", async () => {
      const answers = await Promise.all(
        [0, 1].map(() =>
          rawUpload({
            baseUrl: system.url("gateway"),
            path: path(StorefrontService, "SignIn"),
            contentType: "application/json",
            total: 150 * MiB,
            http1: true,
          }),
        ),
      );
      for (const a of answers) expect(a.code).toBe(Code.ResourceExhausted);
      return Math.max(...answers.map((a) => a.ms));
    });
  });

  it("10 MiB to a method that takes an empty request is refused too", async () => {
    for (const [name, service, method] of [
      ["identity", IdentityService, "GetJwks"],
      ["catalog", CatalogService, "ListCategories"],
    ] as const) {
      const answer = await rawUpload({
        baseUrl: system.url(name),
        path: path(service, method),
        contentType: "application/proto",
        total: 10 * MiB,
      });
      expect(answer.code).toBe(Code.ResourceExhausted);
    }
  });
});

describe("case 3: NUL (U+0000) in string fields", () => {
  const nul = "a\u0000b";

  it("internal services answer InvalidArgument naming the field", async () => {
    const identity = system.client(IdentityService);
    const catalog = system.client(CatalogService);
    const headers = bearer(admin);
    await expectCode(
      identity.login({ email: `x${nul}@example.com`, password: "whatever-password" }),
      Code.InvalidArgument,
      "email",
    );
    await expectCode(
      identity.register({ email: "nul@example.com", password: "correct horse battery", displayName: nul }),
      Code.InvalidArgument,
      "display_name",
    );
    await expectCode(catalog.searchProducts({ query: nul }), Code.InvalidArgument, "query");
    await expectCode(
      catalog.createProduct(
        { sku: "NUL-TEST-1", name: nul, categoryId: "home", price: { currencyCode: "EUR", amountMinor: 100n } },
        { headers },
      ),
      Code.InvalidArgument,
      "name",
    );
    const product = (await catalog.listProducts({ pageSize: 1 })).products.at(0);
    if (!product) throw new Error("the catalog has no products to update");
    await expectCode(
      catalog.updateProduct({ productId: product.id, description: nul }, { headers }),
      Code.InvalidArgument,
      "description",
    );
    for (const consumer of manifests.filter((m) => m.serves.includes(DeadLetterService))) {
      const deadLetters = createClient(
        DeadLetterService,
        createGrpcTransport({ baseUrl: system.url(consumer.name as ServiceName) }),
      );
      await expectCode(deadLetters.listDeadLetters({ consumer: nul }, { headers }), Code.InvalidArgument, "consumer");
    }
  });

  it("the gateway answers 400 invalid_argument over HTTP/1.1 JSON for SignIn, SignUp and SearchProducts", async () => {
    const requests = {
      SignIn: { email: nul, password: "whatever-password" },
      SignUp: { email: "nul2@example.com", password: "correct horse battery", displayName: nul },
      SearchProducts: { query: nul },
    };
    for (const [method, request] of Object.entries(requests)) {
      const answer = await rawCall({
        baseUrl: system.url("gateway"),
        path: path(StorefrontService, method),
        protocol: "connect",
        format: "json",
        streaming: false,
        http1: true,
        body: new TextEncoder().encode(JSON.stringify(request)),
      });
      expect(answer.httpStatus, method).toBe(400);
      expect(answer.code, method).toBe(Code.InvalidArgument);
    }
  });
});

describe("case 4 and 7: PlaceOrder with thousands of lines", () => {
  const lines = (n: number, productId: (i: number) => string) =>
    Array.from({ length: n }, (_, i) => ({ productId: productId(i), quantity: 1 }));

  it("order refuses 5,000 lines by size and 1,000 on max_items, never Internal", async () => {
    const id = (i: number) => `0190a000-0000-7000-8000-${String(i).padStart(12, "0")}`;
    const order = system.client(OrderService);
    const headers = bearer(customer.token);
    await expectCode(
      order.placeOrder(
        { idempotencyKey: "hostile-5000-lines", lines: lines(5_000, id), cardToken: "tok" },
        { headers },
      ),
      Code.ResourceExhausted,
    );
    await expectCode(
      order.placeOrder(
        { idempotencyKey: "hostile-1000-lines", lines: lines(1_000, id), cardToken: "tok" },
        { headers },
      ),
      Code.InvalidArgument,
      "no more than 50 item(s)",
    );
    await expectHealthy("order");
  });

  for (const { count, code } of [
    { count: 4_000, code: Code.ResourceExhausted },
    { count: 1_000, code: Code.InvalidArgument },
  ]) {
    it(`the gateway answers a PlaceOrder of ${String(count)} invalid lines with a small ${Code[code]}`, async () => {
      const body = JSON.stringify({
        idempotencyKey: "hostile-many-lines",
        lines: lines(count, (i) => `not-a-uuid-${String(i)}`),
        cardToken: "tok",
      });
      expect(body.length).toBeGreaterThan(count * 35);
      const answer = await rawCall({
        baseUrl: system.url("gateway"),
        path: path(StorefrontService, "PlaceOrder"),
        protocol: "connect",
        format: "json",
        streaming: false,
        http1: true,
        headers: { authorization: `Bearer ${customer.token}` },
        body: new TextEncoder().encode(body),
      });
      expect(answer.code).toBe(code);
      console.log(
        `gateway: PlaceOrder of ${String(count)} invalid lines (${String(body.length)} bytes): ${String(answer.bytes)}-byte error in ${answer.ms.toFixed(0)} ms`,
      );
      expect(answer.bytes).toBeLessThan(4096);
    });
  }
});

describe("case 5: money that would overflow", () => {
  it("CreateProduct refuses a 2^62 price and an unknown currency with InvalidArgument", async () => {
    const catalog = system.client(CatalogService);
    const headers = bearer(admin);
    const product = { sku: "HUGE-PRICE-1", name: "Huge", categoryId: "home" };
    await expectCode(
      catalog.createProduct({ ...product, price: { currencyCode: "EUR", amountMinor: 2n ** 62n } }, { headers }),
      Code.InvalidArgument,
      "price",
    );
    await expectCode(
      catalog.createProduct({ ...product, price: { currencyCode: "ZZZ", amountMinor: 100n } }, { headers }),
      Code.InvalidArgument,
      "price.currency_code",
    );
  });
});

describe("case 6: undecodable protobuf", () => {
  // Field 1, length-delimited, promising 5 bytes and carrying 1.
  const undecodable = new Uint8Array([0x0a, 0x05, 0x41]);

  it("every method of every deployable, health included, answers InvalidArgument over gRPC and Connect", async () => {
    let calls = 0;
    for (const m of manifests) {
      for (const service of [...m.serves, Health]) {
        for (const method of service.methods) {
          for (const protocol of ["connect", "grpc"] satisfies WireProtocol[]) {
            const answer = await rawCall({
              baseUrl: system.url(m.name as ServiceName),
              path: path(service, method.name),
              protocol,
              format: "proto",
              streaming: method.methodKind === "server_streaming",
              body: undecodable,
              // Streamed requests are decoded after authentication.
              headers: { authorization: `Bearer ${customer.token}` },
              serverTimeoutMs: 2_000,
            });
            expect(answer.code, `${m.name} ${service.typeName}/${method.name} over ${protocol}`).toBe(
              Code.InvalidArgument,
            );
            calls++;
          }
        }
      }
    }
    expect(calls).toBeGreaterThan(100);
  });
});
