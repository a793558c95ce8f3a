// HTTP/1.1 and h2c on one port (the gateway's setting): each connection goes
// to the right server by its first bytes, both protocols reach the same RPCs
// and the same extra HTTP routes, and a drain closes idle HTTP/1.1
// keep-alive connections instead of waiting for the drain timeout.
import * as http from "node:http";
import * as http2 from "node:http2";
import { createClient } from "@connectrpc/connect";
import { createConnectTransport, createGrpcTransport } from "@connectrpc/connect-node";
import { CatalogService } from "@shop/gen/shop/catalog/v1/catalog_pb";
import { describe, expect, it } from "vitest";
import { HTTP2_CLIENT_PREFACE, sniffProtocol } from "../src/protocol-sniffer.ts";
import { implement } from "../src/server.ts";
import { startTestServer } from "./test-server.ts";

const unused = () => {
  throw new Error("not used");
};
const catalog = implement(CatalogService, {
  getProduct: (req) => ({ product: { id: req.productId, name: "kettle" } }),
  batchGetProducts: unused,
  listProducts: unused,
  searchProducts: unused,
  listCategories: unused,
  createProduct: unused,
  updateProduct: unused,
  watchCatalogChanges: unused,
});
const productId = "01970000-0000-7000-8000-000000000001";

describe("sniffProtocol", () => {
  it("waits while the bytes could still be the HTTP/2 preface, whatever the chunking", () => {
    for (let n = 0; n < HTTP2_CLIENT_PREFACE.length; n++)
      expect(sniffProtocol(HTTP2_CLIENT_PREFACE.subarray(0, n))).toBeUndefined();
    expect(sniffProtocol(HTTP2_CLIENT_PREFACE)).toBe("h2");
    expect(sniffProtocol(Buffer.concat([HTTP2_CLIENT_PREFACE, Buffer.from([0, 0, 0, 4])]))).toBe("h2");
  });

  it("recognises HTTP/1.1 from the first byte that differs", () => {
    expect(sniffProtocol(Buffer.from("POST /shop.catalog.v1.CatalogService/GetProduct HTTP/1.1\r\n"))).toBe("http1");
    expect(sniffProtocol(Buffer.from("G"))).toBe("http1");
    expect(sniffProtocol(Buffer.from("PRI * HTTP/1.1"))).toBe("http1");
  });
});

describe("http1OnSamePort", () => {
  it("serves Connect over HTTP/1.1 and gRPC over h2c on the one port", async () => {
    const server = await startTestServer({ http1OnSamePort: true, services: [catalog] });
    expect(server.http1Port).toBe(server.port);
    const overHttp1 = createClient(CatalogService, createConnectTransport({ baseUrl: server.url, httpVersion: "1.1" }));
    const overGrpc = createClient(CatalogService, createGrpcTransport({ baseUrl: server.url }));
    expect((await overHttp1.getProduct({ productId })).product?.name).toBe("kettle");
    expect((await overGrpc.getProduct({ productId })).product?.name).toBe("kettle");
  });

  it("passes every request through httpHandler, which may answer non-RPC paths itself", async () => {
    const seen: string[] = [];
    const server = await startTestServer({
      http1OnSamePort: true,
      services: [catalog],
      httpHandler: (rpc) => (req, res) => {
        seen.push(`${req.httpVersion} ${req.url}`);
        if (req.url === "/hello") {
          res.setHeader("content-type", "text/plain");
          res.end("hi");
          return;
        }
        rpc(req, res);
      },
    });
    expect(await (await fetch(`${server.url}/hello`)).text()).toBe("hi");
    const session = http2.connect(server.url);
    const body = await new Promise<string>((resolve, reject) => {
      const stream = session.request({ ":path": "/hello" });
      let text = "";
      stream.on("data", (chunk: Buffer) => (text += chunk.toString()));
      stream.on("end", () => resolve(text));
      stream.on("error", reject);
      stream.end();
    });
    session.close();
    expect(body).toBe("hi");
    const overHttp1 = createClient(CatalogService, createConnectTransport({ baseUrl: server.url, httpVersion: "1.1" }));
    await overHttp1.getProduct({ productId });
    expect(seen).toEqual(["1.1 /hello", "2.0 /hello", "1.1 /shop.catalog.v1.CatalogService/GetProduct"]);
  });

  it("closes idle HTTP/1.1 keep-alive connections on stop instead of waiting out the drain timeout", async () => {
    const server = await startTestServer({ http1OnSamePort: true, services: [catalog], drainTimeoutMs: 30_000 });
    const agent = new http.Agent({ keepAlive: true });
    await new Promise<void>((resolve, reject) => {
      http
        .get(`${server.url}/grpc.health.v1.Health/Check`, { agent }, (res) => res.resume().on("end", resolve))
        .on("error", reject);
    });
    const started = Date.now();
    await server.stop();
    expect(Date.now() - started).toBeLessThan(2_000);
    agent.destroy();
  });

  it("refuses http1Port together with http1OnSamePort", async () => {
    await expect(startTestServer({ http1OnSamePort: true, http1Port: 0, services: [catalog] })).rejects.toThrow(
      /exclude/,
    );
  });
});
