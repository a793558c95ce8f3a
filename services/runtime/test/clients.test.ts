// Dependency clients: typed, Connect over HTTP/2, addresses from <NAME>_ADDR.
import { Code, ConnectError } from "@connectrpc/connect";
import { CatalogService } from "@shop/gen/shop/catalog/v1/catalog_pb";
import { describe, expect, it } from "vitest";
import { addressVariable, closeDependencyClients, createDependencyClients } from "../src/clients.ts";
import { ConfigError } from "../src/config.ts";
import { implement } from "../src/server.ts";
import { startTestServer } from "./test-server.ts";

const unused = () => {
  throw new ConnectError("not used in this test", Code.Unimplemented);
};

describe("createDependencyClients", () => {
  it("derives the variable name from the dependency name", () => {
    expect(addressVariable("catalog")).toBe("CATALOG_ADDR");
    expect(addressVariable("userProfile")).toBe("USER_PROFILE_ADDR");
    expect(addressVariable("user-profile")).toBe("USER_PROFILE_ADDR");
  });

  it("calls a declared dependency at the address from <NAME>_ADDR with the Connect protocol, binary", async () => {
    const seen: { contentType: string | null }[] = [];
    const server = await startTestServer({
      services: [
        implement(CatalogService, {
          getProduct: (req, ctx) => {
            seen.push({ contentType: ctx.requestHeader.get("content-type") });
            return { product: { id: req.productId } };
          },
          batchGetProducts: unused,
          listProducts: unused,
          searchProducts: unused,
          listCategories: unused,
          createProduct: unused,
          updateProduct: unused,
          watchCatalogChanges: unused,
        }),
      ],
    });
    // Either form of declaration: the service itself or a manifest entry.
    const dependencies = { catalog: CatalogService, alsoCatalog: { service: CatalogService } };
    const clients = createDependencyClients(
      dependencies,
      // catalog's default is unreachable: the env var must win.
      { catalog: "http://127.0.0.1:1", alsoCatalog: server.url },
      { env: { CATALOG_ADDR: server.url } },
    );
    try {
      const id = "0190a000-0000-7000-8000-000000000001";
      await expect(clients.catalog.getProduct({ productId: id })).resolves.toMatchObject({ product: { id } });
      await expect(clients.alsoCatalog.getProduct({ productId: id })).resolves.toMatchObject({ product: { id } });
      expect(seen).toEqual([{ contentType: "application/proto" }, { contentType: "application/proto" }]);
      expect(Object.keys(clients)).toEqual(["catalog", "alsoCatalog"]);
    } finally {
      closeDependencyClients(clients);
    }
  });

  it("gives a manifest entry's client its declared methods and no others", () => {
    const clients = createDependencyClients(
      { catalog: { service: CatalogService, methods: ["getProduct", "listProducts"] } },
      { catalog: "http://127.0.0.1:1" },
      { env: {} },
    );
    try {
      expect(Object.keys(clients.catalog).sort()).toEqual(["getProduct", "listProducts"]);
      // Not callable at run time either, whatever a cast says.
      expect((clients.catalog as Record<string, unknown>).updateProduct).toBeUndefined();
    } finally {
      closeDependencyClients(clients);
    }
  });

  it("rejects a declared method the service does not have", () => {
    expect(() =>
      createDependencyClients(
        { catalog: { service: CatalogService, methods: ["getProduct", "deleteEverything"] } },
        { catalog: "http://127.0.0.1:1" },
        { env: {} },
      ),
    ).toThrow(/catalog: shop\.catalog\.v1\.CatalogService has no method deleteEverything/);
  });

  it("rejects a bad address naming the variable", () => {
    expect(() =>
      createDependencyClients(
        { catalog: CatalogService },
        { catalog: "http://127.0.0.1:7002" },
        { env: { CATALOG_ADDR: "catalog:7002" } },
      ),
    ).toThrow(ConfigError);
    expect(() =>
      createDependencyClients(
        { catalog: CatalogService },
        { catalog: "http://127.0.0.1:7002" },
        { env: { CATALOG_ADDR: "catalog:7002" } },
      ),
    ).toThrow(/CATALOG_ADDR must be an http\(s\) URL .*\(got "catalog:7002"\)/);
  });
});
