// What a hostile caller can send a server, with raw HTTP/1.1 and HTTP/2
// clients (no Connect client to tidy the request up): oversize bodies are
// refused with ResourceExhausted before they are read, the upload is cut
// off, bytes that do not decode answer InvalidArgument in every protocol,
// and validation stays cheap and its errors small however many items break
// a rule.
import * as http from "node:http";
import * as http2 from "node:http2";
import { create, toBinary } from "@bufbuild/protobuf";
import { ViolationsSchema } from "@bufbuild/protovalidate/gen/buf/validate/validate_pb.js";
import { Code, ConnectError, createClient } from "@connectrpc/connect";
import { createConnectTransport } from "@connectrpc/connect-node";
import {
  BatchGetProductsRequestSchema,
  CatalogService,
  GetProductRequestSchema,
} from "@shop/gen/shop/catalog/v1/catalog_pb";
import { OrderService } from "@shop/gen/shop/order/v1/order_pb";
import { describe, expect, it } from "vitest";
import { HealthCheckRequestSchema } from "../src/grpc-gen/grpc/health/v1/health_pb.ts";
import { MAX_VIOLATIONS } from "../src/interceptors/validation.ts";
import { implement } from "../src/server.ts";
import { startTestServer } from "./test-server.ts";

const MiB = 1024 * 1024;
const validId = "0190a000-0000-7000-8000-000000000001";
const unused = () => {
  throw new ConnectError("not used in this test", Code.Unimplemented);
};
const catalog = implement(CatalogService, {
  getProduct: () => ({}),
  batchGetProducts: () => ({ products: [] }),
  listProducts: unused,
  searchProducts: unused,
  listCategories: () => ({ categories: [] }),
  createProduct: unused,
  updateProduct: unused,
  watchCatalogChanges: unused,
});
const order = implement(OrderService, {
  placeOrder: unused,
  getOrder: unused,
  listOrders: unused,
  cancelOrder: unused,
  async *watchOrder() {},
});

interface RawAnswer {
  status: number;
  headers: Record<string, string | string[] | undefined>;
  trailers: Record<string, string | string[] | undefined>;
  body: Buffer;
  /** Request body bytes the client got to send before the call ended. */
  sent: number;
}

/** POSTs `body` (or `total` filler bytes, as fast as flow control allows) over HTTP/2 prior knowledge. */
function h2Post(
  url: string,
  path: string,
  headers: http2.OutgoingHttpHeaders,
  body: Buffer | { total: number },
): Promise<RawAnswer> {
  return new Promise((resolve, reject) => {
    const session = http2.connect(url);
    session.on("error", reject);
    const stream = session.request({ ":method": "POST", ":path": path, ...headers });
    let sent = 0;
    if (Buffer.isBuffer(body)) {
      sent = body.length;
      stream.end(body);
    } else {
      const chunk = Buffer.alloc(64 * 1024, 0x41);
      const pump = () => {
        while (sent < body.total && !stream.closed) {
          sent += chunk.length;
          if (!stream.write(chunk)) return void stream.once("drain", pump);
        }
        stream.end();
      };
      pump();
    }
    const answer: RawAnswer = { status: 0, headers: {}, trailers: {}, body: Buffer.alloc(0), sent: 0 };
    const chunks: Buffer[] = [];
    stream.on("response", (h) => {
      answer.status = Number(h[":status"]);
      answer.headers = h;
    });
    stream.on("trailers", (t: http2.IncomingHttpHeaders) => {
      answer.trailers = t;
    });
    stream.on("data", (d: Buffer) => chunks.push(d));
    stream.on("error", () => {}); // a reset after the answer is the point of the test
    stream.on("close", () => {
      session.close();
      resolve({ ...answer, body: Buffer.concat(chunks), sent });
    });
  });
}

/** POSTs `total` filler bytes over HTTP/1.1, with Content-Length or chunked, until the answer arrives. */
function h1Post(port: number, path: string, total: number, chunked: boolean): Promise<RawAnswer> {
  return new Promise((resolve, reject) => {
    const headers: http.OutgoingHttpHeaders = { "content-type": "application/json" };
    if (!chunked) headers["content-length"] = total;
    const req = http.request({ host: "127.0.0.1", port, path, method: "POST", headers, agent: false });
    let sent = 0;
    let answered = false;
    const chunk = Buffer.alloc(64 * 1024, 0x20);
    const pump = () => {
      while (!answered && sent < total) {
        sent += chunk.length;
        if (!req.write(chunk)) return void req.once("drain", pump);
      }
      if (!answered) req.end();
    };
    req.on("response", (res) => {
      answered = true;
      const chunks: Buffer[] = [];
      res.on("data", (d: Buffer) => chunks.push(d));
      res.on("end", () => {
        resolve({ status: res.statusCode ?? 0, headers: res.headers, trailers: {}, body: Buffer.concat(chunks), sent });
      });
    });
    req.on("error", (err) => {
      if (!answered) reject(err);
    });
    pump();
  });
}

/** An enveloped (gRPC, gRPC-Web, Connect streaming) frame. */
function frame(payload: Buffer, declaredLength = payload.length): Buffer {
  const header = Buffer.alloc(5);
  header.writeUInt32BE(declaredLength, 1);
  return Buffer.concat([header, payload]);
}

/** Field 1, length-delimited, promising 5 bytes and carrying 1: protobuf-es reports premature EOF. */
const UNDECODABLE = Buffer.from([0x0a, 0x05, 0x41]);

describe("request size limits", () => {
  it("refuses a 200 MiB Connect request over HTTP/2 after reading about the limit, and stops the upload", async () => {
    const server = await startTestServer({ services: [catalog], readMaxBytes: 4 * MiB });
    const started = Date.now();
    const answer = await h2Post(
      server.url,
      "/shop.catalog.v1.CatalogService/GetProduct",
      { "content-type": "application/proto" },
      { total: 200 * MiB },
    );
    expect(answer.status).toBe(429);
    expect(JSON.parse(answer.body.toString())).toMatchObject({ code: "resource_exhausted" });
    // Flow control lets a client run ahead of what the server read, by
    // about a window; it never gets to send the whole body.
    expect(answer.sent).toBeLessThan(32 * MiB);
    expect(Date.now() - started).toBeLessThan(10_000); // a bound for a busy machine; typically ~0.1 s
  });

  it("refuses a gRPC frame that declares more than the limit before reading it", async () => {
    const server = await startTestServer({ services: [catalog], readMaxBytes: 4 * MiB });
    const answer = await h2Post(
      server.url,
      "/shop.catalog.v1.CatalogService/GetProduct",
      { "content-type": "application/grpc", te: "trailers" },
      frame(Buffer.alloc(16), 1024 * MiB),
    );
    expect(answer.trailers["grpc-status"] ?? answer.headers["grpc-status"]).toBe(String(Code.ResourceExhausted));
  });

  it("answers an oversize HTTP/1.1 body (with Content-Length or chunked) at once and cuts the upload off", async () => {
    const server = await startTestServer({ services: [catalog], readMaxBytes: 1 * MiB, http1OnSamePort: true });
    for (const chunked of [false, true]) {
      const answer = await h1Post(server.port, "/shop.catalog.v1.CatalogService/GetProduct", 200 * MiB, chunked);
      expect(answer.status).toBe(429);
      expect(JSON.parse(answer.body.toString())).toMatchObject({ code: "resource_exhausted" });
      // The server reads and discards at most 8 MiB more, then stops reading until it closes.
      expect(answer.sent).toBeLessThan(64 * MiB);
    }
  });

  it("takes requests up to the limit", async () => {
    const server = await startTestServer({ services: [catalog], readMaxBytes: 64 * 1024 });
    const client = createClient(
      CatalogService,
      createConnectTransport({ baseUrl: server.url, httpVersion: "2", useBinaryFormat: true }),
    );
    const ids = Array.from({ length: 100 }, (_, i) => `0190a000-0000-7000-8000-${String(i).padStart(12, "0")}`);
    await expect(client.batchGetProducts({ productIds: ids })).resolves.toBeDefined();
  });
});

describe("undecodable requests", () => {
  const cases: { protocol: string; headers: http2.OutgoingHttpHeaders; body: Buffer }[] = [
    { protocol: "Connect", headers: { "content-type": "application/proto" }, body: UNDECODABLE },
    { protocol: "gRPC", headers: { "content-type": "application/grpc", te: "trailers" }, body: frame(UNDECODABLE) },
    { protocol: "gRPC-Web", headers: { "content-type": "application/grpc-web+proto" }, body: frame(UNDECODABLE) },
  ];

  for (const { protocol, headers, body } of cases) {
    it(`answer InvalidArgument over ${protocol}, for our services and for health`, async () => {
      const server = await startTestServer({ services: [catalog] });
      for (const path of ["/shop.catalog.v1.CatalogService/GetProduct", "/grpc.health.v1.Health/Check"]) {
        const answer = await h2Post(server.url, path, headers, body);
        expect(codeOf(protocol, answer), `${protocol} ${path}`).toBe(Code.InvalidArgument);
      }
      expect(server.lines.filter((l) => l.msg === "unhandled error in rpc handler")).toEqual([]);
    });
  }

  it("answer InvalidArgument for a server-streaming call too", async () => {
    const server = await startTestServer({ services: [order] });
    const answer = await h2Post(
      server.url,
      "/shop.order.v1.OrderService/WatchOrder",
      { "content-type": "application/grpc", te: "trailers" },
      frame(UNDECODABLE),
    );
    expect(codeOf("gRPC", answer)).toBe(Code.InvalidArgument);
  });

  // V8's JSON.parse error quotes the text around the error and can cut an
  // emoji in half; connect-es then throws while percent-encoding that message
  // into grpc-message, and used to reset the stream with no answer.
  const halfAnEmoji = Buffer.from(`{"service":x${"\u{1F91E}".repeat(20)}}`);
  for (const [protocol, contentType] of [
    ["gRPC", "application/grpc+json"],
    ["gRPC-Web", "application/grpc-web+json"],
  ] as const) {
    it(`answer InvalidArgument over ${protocol} when the decoder's message is not well-formed text`, async () => {
      const server = await startTestServer({ services: [catalog] });
      for (const path of ["/grpc.health.v1.Health/Check", "/grpc.health.v1.Health/Watch"]) {
        const answer = await h2Post(
          server.url,
          path,
          { "content-type": contentType, te: "trailers" },
          frame(halfAnEmoji),
        );
        expect(answer.status, `${protocol} ${path}`).toBe(200);
        expect(codeOf(protocol, answer), `${protocol} ${path}`).toBe(Code.InvalidArgument);
      }
    });
  }

  it("answer an error whose message was cut in the middle of an emoji", async () => {
    const server = await startTestServer({ services: [catalog] });
    // "unknown service x" and then emoji: the cut at MAX_ERROR_MESSAGE falls inside a pair.
    const request = create(HealthCheckRequestSchema, { service: `x${"\u{1F91E}".repeat(1000)}` });
    const answer = await h2Post(
      server.url,
      "/grpc.health.v1.Health/Check",
      { "content-type": "application/grpc", te: "trailers" },
      frame(Buffer.from(toBinary(HealthCheckRequestSchema, request))),
    );
    expect(codeOf("gRPC", answer)).toBe(Code.NotFound);
    const message = decodeURIComponent(String(answer.trailers["grpc-message"]));
    expect(message).toMatch(/^unknown service x\u{1F91E}+\u{FFFD}…$/u);
  });

  it("leave an Internal raised by a handler alone", async () => {
    const failing = implement(CatalogService, {
      getProduct: () => {
        throw new ConnectError("parse binary: a downstream answer", Code.Internal);
      },
      batchGetProducts: unused,
      listProducts: unused,
      searchProducts: unused,
      listCategories: unused,
      createProduct: unused,
      updateProduct: unused,
      watchCatalogChanges: unused,
    });
    const server = await startTestServer({ services: [failing] });
    const answer = await h2Post(
      server.url,
      "/shop.catalog.v1.CatalogService/GetProduct",
      { "content-type": "application/proto" },
      Buffer.from(toBinary(GetProductRequestSchema, create(GetProductRequestSchema, { productId: validId }))),
    );
    expect(codeOf("Connect", answer)).toBe(Code.Internal);
  });
});

function codeOf(protocol: string, answer: RawAnswer): Code {
  if (protocol === "Connect") {
    const { code } = JSON.parse(answer.body.toString()) as { code: string };
    const name = code.replace(/(^|_)(\w)/g, (_m, _u, c: string) => c.toUpperCase()) as keyof typeof Code;
    return Code[name];
  }
  const status =
    protocol === "gRPC"
      ? String(answer.trailers["grpc-status"] ?? answer.headers["grpc-status"])
      : // gRPC-Web: the trailer is the body's last frame, "grpc-status: N\r\n...".
        /grpc-status: ?(\d+)/i.exec(answer.body.subarray(5).toString())?.[1];
  // A numeric enum maps each value back to its name; a name maps to its Code.
  const name = Code[Number(status)] as keyof typeof Code | undefined;
  if (name === undefined) throw new Error(`no gRPC status in the answer (${String(status)})`);
  return Code[name];
}

describe("validation under hostile input", () => {
  const client = (url: string) =>
    createClient(CatalogService, createConnectTransport({ baseUrl: url, httpVersion: "2", useBinaryFormat: true }));
  const orders = (url: string) =>
    createClient(OrderService, createConnectTransport({ baseUrl: url, httpVersion: "2", useBinaryFormat: true }));

  it("refuses 30,000 ids (90 KB) by size: the method's contract allows at most 64 KiB", async () => {
    const server = await startTestServer({ services: [catalog] });
    const ids = Array.from({ length: 30_000 }, () => "x");
    const err = await client(server.url)
      .batchGetProducts({ productIds: ids })
      .then(
        () => undefined,
        (e: unknown) => ConnectError.from(e),
      );
    expect(err?.code).toBe(Code.ResourceExhausted);
    expect(err?.rawMessage).toContain("65536");
  });

  it("refuses 20,000 bad ids with one small error: the size rule, not a violation per id", async () => {
    const server = await startTestServer({ services: [catalog] });
    const ids = Array.from({ length: 20_000 }, () => "x");
    expect(
      toBinary(BatchGetProductsRequestSchema, create(BatchGetProductsRequestSchema, { productIds: ids })).length,
    ).toBe(60_000);
    const err = await client(server.url)
      .batchGetProducts({ productIds: ids })
      .then(
        () => undefined,
        (e: unknown) => ConnectError.from(e),
      );
    expect(err?.code).toBe(Code.InvalidArgument);
    expect(err?.rawMessage).toBe(
      "invalid BatchGetProductsRequest: product_ids: value must contain no more than 100 item(s) [repeated.max_items]",
    );
    expect(err?.findDetails(ViolationsSchema)[0]?.violations).toHaveLength(1);
  });

  it("refuses 1,000 order lines on max_items without evaluating unique() over them", async () => {
    const server = await startTestServer({ services: [order] });
    const lines = Array.from({ length: 1_000 }, (_, i) => ({
      productId: `0190a000-0000-7000-8000-${String(i).padStart(12, "0")}`,
      quantity: 1,
    }));
    const err = await orders(server.url)
      .placeOrder({ idempotencyKey: "key-12345678", lines, cardToken: "tok" })
      .then(
        () => undefined,
        (e: unknown) => ConnectError.from(e),
      );
    expect(err?.code).toBe(Code.InvalidArgument);
    expect(err?.rawMessage).toContain("lines: value must contain no more than 50 item(s)");
  });

  it(`reports at most ${String(MAX_VIOLATIONS)} violations, and how many more there were`, async () => {
    const server = await startTestServer({ services: [catalog] });
    const ids = Array.from({ length: 100 }, (_, i) => `bad-${String(i)}`);
    const err = await client(server.url)
      .batchGetProducts({ productIds: ids })
      .then(
        () => undefined,
        (e: unknown) => ConnectError.from(e),
      );
    expect(err?.code).toBe(Code.InvalidArgument);
    expect(err?.findDetails(ViolationsSchema)[0]?.violations).toHaveLength(MAX_VIOLATIONS);
    expect(err?.rawMessage).toMatch(new RegExp(`; and ${String(100 - MAX_VIOLATIONS)} more$`));
    expect(err?.rawMessage.length).toBeLessThan(2048);
  });

  it("keeps an error's gRPC trailers under the 8 KiB of metadata gRPC clients accept", async () => {
    const server = await startTestServer({ services: [catalog] });
    const ids = Array.from({ length: 100 }, (_, i) => `${"bad-".repeat(20)}${String(i)}`);
    const body = toBinary(BatchGetProductsRequestSchema, create(BatchGetProductsRequestSchema, { productIds: ids }));
    const answer = await h2Post(
      server.url,
      "/shop.catalog.v1.CatalogService/BatchGetProducts",
      { "content-type": "application/grpc", te: "trailers" },
      frame(Buffer.from(body)),
    );
    expect(codeOf("gRPC", answer)).toBe(Code.InvalidArgument);
    const metadataBytes = Object.entries(answer.trailers).reduce((n, [k, v]) => n + k.length + String(v).length, 0);
    expect(metadataBytes).toBeLessThan(8 * 1024);
  });

  it("bounds an error message that echoes the request (health of a 100 KB service name)", async () => {
    const server = await startTestServer({ services: [catalog] });
    const name = "s".repeat(100_000);
    const request = Buffer.concat([Buffer.from([0x0a, 0xa0, 0x8d, 0x06]), Buffer.from(name)]);
    const answer = await h2Post(
      server.url,
      "/grpc.health.v1.Health/Check",
      { "content-type": "application/grpc", te: "trailers" },
      frame(request),
    );
    console.log(answer.trailers);
    expect(codeOf("gRPC", answer)).toBe(Code.NotFound);
    expect(String(answer.trailers["grpc-message"]).length).toBeLessThan(2048);
  });

  it("refuses NUL characters in any string field, naming the field", async () => {
    const server = await startTestServer({ services: [catalog] });
    const err = await client(server.url)
      .searchProducts({ query: "kettle\u0000" })
      .then(
        () => undefined,
        (e: unknown) => ConnectError.from(e),
      );
    expect(err?.code).toBe(Code.InvalidArgument);
    expect(err?.rawMessage).toBe(
      "invalid SearchProductsRequest: query: value must not contain NUL characters (U+0000) [string.no_nul]",
    );
    expect(err?.findDetails(ViolationsSchema)[0]?.violations[0]?.field?.elements[0]?.fieldName).toBe("query");
  });

  it("refuses a string far over its max_len before any pattern runs on it", async () => {
    const server = await startTestServer({ services: [catalog] });
    const err = await client(server.url)
      .listProducts({ categoryId: "a".repeat(60_000) })
      .then(
        () => undefined,
        (e: unknown) => ConnectError.from(e),
      );
    expect(err?.code).toBe(Code.InvalidArgument);
    expect(err?.rawMessage).toContain("category_id: value length must be at most 40 characters [string.max_len]");
  });
});
