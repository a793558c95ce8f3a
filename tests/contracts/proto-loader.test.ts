// Stock gRPC tooling reads the contracts: @grpc/proto-loader (protobuf.js) loads
// every .proto in proto/ from source, and a grpc-js client can be built for
// every service.
import { readdirSync } from "node:fs";
import { join, relative } from "node:path";
import * as grpc from "@grpc/grpc-js";
import { loadSync, type ServiceDefinition } from "@grpc/proto-loader";
import { describe, expect, it } from "vitest";

const root = join(import.meta.dirname, "../..");
const protoRoot = join(root, "proto");
const includeDirs = [protoRoot, join(root, ".proto-deps")];

const protoFiles = readdirSync(protoRoot, { recursive: true, encoding: "utf8" })
  .filter((f) => f.endsWith(".proto"))
  .sort();

describe("contracts load with @grpc/proto-loader", () => {
  it("finds every contract file", () => {
    expect(protoFiles).toContain("shop/order/v1/order.proto");
    expect(protoFiles.length).toBeGreaterThanOrEqual(14);
  });

  it.each(protoFiles)("%s", (file) => {
    const definitions = loadSync(join(protoRoot, file), { includeDirs, keepCase: false, longs: String, enums: String });
    const pkg = `shop.${relative(protoRoot, join(protoRoot, file)).split("/")[1]}.v1`;
    const own = Object.keys(definitions).filter((name) => name.startsWith(pkg + "."));
    expect(own.length).toBeGreaterThan(0);
  });

  const expectedServices = [
    ["shop.identity.v1.IdentityService", "/shop.identity.v1.IdentityService/Login"],
    ["shop.catalog.v1.CatalogService", "/shop.catalog.v1.CatalogService/SearchProducts"],
    ["shop.inventory.v1.InventoryService", "/shop.inventory.v1.InventoryService/Restock"],
    ["shop.payment.v1.PaymentService", "/shop.payment.v1.PaymentService/TokenizeCard"],
    ["shop.order.v1.OrderService", "/shop.order.v1.OrderService/WatchOrder"],
    ["shop.notification.v1.NotificationService", "/shop.notification.v1.NotificationService/WatchNotifications"],
    ["shop.storefront.v1.StorefrontService", "/shop.storefront.v1.StorefrontService/PlaceOrder"],
    ["shop.ops.v1.DeadLetterService", "/shop.ops.v1.DeadLetterService/ReplayDeadLetter"],
  ] as const;

  it.each(expectedServices)("%s becomes a grpc-js client", (serviceName, samplePath) => {
    const definitions = loadSync(
      protoFiles.map((f) => join(protoRoot, f)),
      { includeDirs },
    );
    const service = definitions[serviceName] as ServiceDefinition;
    expect(Object.values(service).map((m) => m.path)).toContain(samplePath);
    const Client = grpc.makeGenericClientConstructor(service, serviceName);
    const client = new Client("127.0.0.1:1", grpc.credentials.createInsecure());
    expect(typeof (client as unknown as Record<string, unknown>)[samplePath.split("/")[2]]).toBe("function");
    client.close();
  });

  it("marks server-streaming RPCs as streams", () => {
    const definitions = loadSync(join(protoRoot, "shop/order/v1/order.proto"), { includeDirs });
    const service = definitions["shop.order.v1.OrderService"] as ServiceDefinition;
    expect(service.WatchOrder.responseStream).toBe(true);
    expect(service.PlaceOrder.responseStream).toBe(false);
  });
});
