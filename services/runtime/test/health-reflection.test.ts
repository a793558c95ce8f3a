// Health and reflection must work for the tools operators actually use:
// `buf curl` (reflection, no .proto files) and a stock @grpc/grpc-js client
// built from the .proto files grpc ships.
import { execFile } from "node:child_process";
import { createRequire } from "node:module";
import { dirname, join } from "node:path";
import { promisify } from "node:util";
import { fromBinary } from "@bufbuild/protobuf";
import { FileDescriptorProtoSchema } from "@bufbuild/protobuf/wkt";
import * as grpc from "@grpc/grpc-js";
import * as protoLoader from "@grpc/proto-loader";
import { CatalogService } from "@shop/gen/shop/catalog/v1/catalog_pb";
import { describe, expect, it } from "vitest";
import { ServingStatus } from "../src/health.ts";
import { implement } from "../src/server.ts";
import { startTestServer } from "./test-server.ts";

const root = join(import.meta.dirname, "../../..");
const buf = join(root, "node_modules/.bin/buf");
const require = createRequire(join(root, "package.json"));
const healthProto = join(dirname(require.resolve("grpc-health-check/package.json")), "proto/health/v1/health.proto");
const reflectionDir = join(dirname(require.resolve("@grpc/reflection/package.json")), "build/proto/grpc/reflection");

const catalog = implement(CatalogService, {
  getProduct: (req) => ({ product: { id: req.productId, name: "Kettle" } }),
  batchGetProducts: () => ({}),
  listProducts: () => ({}),
  searchProducts: () => ({}),
  listCategories: () => ({}),
  createProduct: () => ({}),
  updateProduct: () => ({}),
  watchCatalogChanges: () => {
    throw new Error("not used");
  },
});

async function bufCurl(...args: string[]): Promise<string> {
  const { stdout } = await promisify(execFile)(buf, ["curl", "--http2-prior-knowledge", ...args]);
  return stdout;
}

// The parts of the stub clients proto-loader builds at run time that these
// tests use (keepCase, enums as strings, oneofs named by `message_response`).
interface HealthClient {
  Check(request: { service: string }, callback: (err: grpc.ServiceError | null, res: { status: string }) => void): void;
  Watch(request: { service: string }): grpc.ClientReadableStream<{ status: string }>;
}
interface ReflectionResponse {
  message_response: string;
  list_services_response: { service: { name: string }[] };
  file_descriptor_response: { file_descriptor_proto: Buffer[] };
  error_response: { error_code: number };
  original_request: { file_containing_symbol: string };
}
interface ReflectionClient {
  ServerReflectionInfo(): grpc.ClientDuplexStream<object, ReflectionResponse>;
}

/** A stock grpc-js client of `serviceName`, built from its .proto file. */
function grpcClient(
  protoPath: string,
  serviceName: string,
  address: string,
): InstanceType<grpc.ServiceClientConstructor> {
  const definition = protoLoader.loadSync(protoPath, { keepCase: true, enums: String, defaults: true, oneofs: true });
  let node: grpc.GrpcObject[string] | undefined = grpc.loadPackageDefinition(definition);
  for (const part of serviceName.split(".")) {
    if (node === undefined || typeof node === "function" || "format" in node) break;
    node = node[part];
  }
  if (typeof node !== "function") throw new Error(`no service ${serviceName} in ${protoPath}`);
  return new node(address, grpc.credentials.createInsecure());
}

// The methods exist only at run time, made from the .proto: say which ones we use.
const healthClient = (address: string) =>
  grpcClient(healthProto, "grpc.health.v1.Health", address) as unknown as grpc.Client & HealthClient;
const reflectionClient = (version: string, address: string) =>
  grpcClient(
    join(reflectionDir, version, "reflection.proto"),
    `grpc.reflection.${version}.ServerReflection`,
    address,
  ) as unknown as grpc.Client & ReflectionClient;

/** One request/response exchange on a reflection stream. */
function reflect(client: ReflectionClient, request: object): Promise<ReflectionResponse> {
  return new Promise((resolve, reject) => {
    const call = client.ServerReflectionInfo();
    call.on("data", (res: ReflectionResponse) => {
      resolve(res);
      call.end();
    });
    call.on("error", reject);
    call.write(request);
  });
}

describe("grpc.health.v1.Health", () => {
  it("answers Check and Watch for a stock grpc-js client", async () => {
    const server = await startTestServer({ services: [catalog] });
    const client = healthClient(`127.0.0.1:${server.port}`);
    try {
      const check = (service: string) =>
        new Promise<{ status: string }>((resolve, reject) => {
          client.Check({ service }, (err, res) => {
            if (err) reject(err);
            else resolve(res);
          });
        });
      await expect(check("")).resolves.toMatchObject({ status: "SERVING" });
      await expect(check("shop.catalog.v1.CatalogService")).resolves.toMatchObject({ status: "SERVING" });
      await expect(check("shop.nope.v1.Nope")).rejects.toMatchObject({ code: grpc.status.NOT_FOUND });

      const watch = client.Watch({ service: "shop.catalog.v1.CatalogService" });
      const seen: string[] = [];
      const twoUpdates = new Promise<void>((resolve, reject) => {
        watch.on("data", (res: { status: string }) => {
          seen.push(res.status);
          // The first update is the current status; change it once we have it.
          if (seen.length === 1) server.health.set("shop.catalog.v1.CatalogService", ServingStatus.NOT_SERVING);
          if (seen.length === 2) resolve();
        });
        watch.on("error", reject);
      });
      await twoUpdates;
      expect(seen).toEqual(["SERVING", "NOT_SERVING"]);
      await expect(check("shop.catalog.v1.CatalogService")).resolves.toMatchObject({ status: "NOT_SERVING" });
      watch.cancel();
    } finally {
      client.close();
    }
  });

  it("Watch reports SERVICE_UNKNOWN for a service that is not registered, without failing", async () => {
    const server = await startTestServer({ services: [catalog] });
    const client = healthClient(`127.0.0.1:${server.port}`);
    try {
      const watch = client.Watch({ service: "shop.nope.v1.Nope" });
      const first = await new Promise<{ status: string }>((resolve, reject) => {
        watch.once("data", resolve);
        watch.on("error", reject);
      });
      expect(first.status).toBe("SERVICE_UNKNOWN");
      watch.cancel();
    } finally {
      client.close();
    }
  });

  it("answers Check through buf curl using reflection only", async () => {
    const server = await startTestServer({ services: [catalog] });
    for (const protocol of ["grpc", "connect", "grpcweb"]) {
      const out = await bufCurl(
        "--protocol",
        protocol,
        "-d",
        '{"service":"shop.catalog.v1.CatalogService"}',
        `${server.url}/grpc.health.v1.Health/Check`,
      );
      expect(JSON.parse(out), protocol).toEqual({ status: "SERVING" });
    }
  });
});

describe("server reflection", () => {
  it("lists services to buf curl over reflection v1 and v1alpha", async () => {
    const server = await startTestServer({ services: [catalog] });
    const expected = [
      "grpc.health.v1.Health",
      "grpc.reflection.v1.ServerReflection",
      "grpc.reflection.v1alpha.ServerReflection",
      "shop.catalog.v1.CatalogService",
    ];
    for (const version of ["grpc-v1", "grpc-v1alpha"]) {
      const out = await bufCurl("--reflect-protocol", version, "--list-services", server.url);
      expect(out.trim().split("\n"), version).toEqual(expected);
    }
  });

  it("lets buf curl call an application method it knows only from reflection", async () => {
    const server = await startTestServer({ services: [catalog] });
    const id = "0190a000-0000-7000-8000-000000000001";
    const out = await bufCurl(
      "--protocol",
      "grpc",
      "-d",
      JSON.stringify({ product_id: id }),
      `${server.url}/shop.catalog.v1.CatalogService/GetProduct`,
    );
    expect(JSON.parse(out)).toEqual({ product: { id, name: "Kettle" } });
  });

  for (const version of ["v1", "v1alpha"]) {
    it(`serves a grpc-js client over ${version}: list, symbol, filename, errors`, async () => {
      const server = await startTestServer({ services: [catalog] });
      const client = reflectionClient(version, `127.0.0.1:${server.port}`);
      try {
        const listed = await reflect(client, { list_services: "*" });
        expect(listed.list_services_response.service.map((s) => s.name)).toContain("shop.catalog.v1.CatalogService");

        const bySymbol = await reflect(client, { file_containing_symbol: "shop.catalog.v1.CatalogService.GetProduct" });
        const files = bySymbol.file_descriptor_response.file_descriptor_proto.map((b) =>
          fromBinary(FileDescriptorProtoSchema, b),
        );
        // The requested file first, then every transitive import.
        expect(files[0].name).toBe("shop/catalog/v1/catalog.proto");
        const names = files.map((f) => f.name);
        expect(names).toEqual(
          expect.arrayContaining(["buf/validate/validate.proto", "google/protobuf/descriptor.proto"]),
        );
        for (const file of files) for (const dep of file.dependency) expect(names).toContain(dep);
        expect(files[0].service[0].method.map((m) => m.name)).toContain("GetProduct");

        const nested = await reflect(client, {
          file_containing_symbol: "grpc.health.v1.HealthCheckResponse.ServingStatus",
        });
        expect(
          fromBinary(FileDescriptorProtoSchema, nested.file_descriptor_response.file_descriptor_proto[0]).name,
        ).toBe("grpc/health/v1/health.proto");

        const byName = await reflect(client, { file_by_filename: "google/protobuf/descriptor.proto" });
        expect(
          fromBinary(FileDescriptorProtoSchema, byName.file_descriptor_response.file_descriptor_proto[0]).name,
        ).toBe("google/protobuf/descriptor.proto");

        const missing = await reflect(client, { file_containing_symbol: "shop.nope.v1.Nope" });
        expect(missing.message_response).toBe("error_response");
        expect(missing.error_response.error_code).toBe(grpc.status.NOT_FOUND);
        expect(missing.original_request.file_containing_symbol).toBe("shop.nope.v1.Nope");
      } finally {
        client.close();
      }
    });
  }
});
