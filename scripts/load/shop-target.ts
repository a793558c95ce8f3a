// The shop as the load generator sees it: sign up customers, tokenize test
// cards, place orders and follow each to its terminal state, through the
// gateway's public StorefrontService (what browsers and CLI clients use) or
// straight to the services behind it (identity, payment, order), with the
// generated Connect clients over HTTP/2.
import { randomUUID } from "node:crypto";
import type { DescService } from "@bufbuild/protobuf";
import type { CallOptions, Client } from "@connectrpc/connect";
import { Http2Clients } from "./http2-clients.ts";
import { CatalogService } from "@shop/gen/shop/catalog/v1/catalog_pb";
import { IdentityService } from "@shop/gen/shop/identity/v1/identity_pb";
import { InventoryService } from "@shop/gen/shop/inventory/v1/inventory_pb";
import { OrderService, OrderStatus, type Order } from "@shop/gen/shop/order/v1/order_pb";
import { PaymentService } from "@shop/gen/shop/payment/v1/payment_pb";
import { StorefrontService } from "@shop/gen/shop/storefront/v1/storefront_pb";

export type TargetName = "gateway" | "order";

/** Where each part of the shop listens (base URLs). */
export interface ShopAddresses {
  gateway: string;
  identity: string;
  catalog: string;
  inventory: string;
  payment: string;
  order: string;
}

/** Addresses from <NAME>_ADDR, else 127.0.0.1 and <NAME>_PORT or `npm start`'s default port. */
export function shopAddresses(env: NodeJS.ProcessEnv): ShopAddresses {
  const at = (name: keyof ShopAddresses, port: number) =>
    env[`${name.toUpperCase()}_ADDR`] ?? `http://127.0.0.1:${env[`${name.toUpperCase()}_PORT`] ?? String(port)}`;
  return {
    gateway: at("gateway", 8080),
    identity: at("identity", 7001),
    catalog: at("catalog", 7002),
    inventory: at("inventory", 7003),
    order: at("order", 7004),
    payment: at("payment", 7005),
  };
}

export interface Customer {
  readonly email: string;
  readonly headers: Headers;
}

export const APPROVED_CARD = "4242424242424242";
const TERMINAL = new Set([OrderStatus.CONFIRMED, OrderStatus.CANCELLED]);

/** What a caller may choose about an order (chaos runs retry with the same key, order several units). */
export interface OrderChoice {
  /** Default: a fresh key per call. */
  idempotencyKey?: string;
  /** Default 1. */
  quantity?: number;
}

export interface ShopTarget {
  readonly name: TargetName;
  signUp(): Promise<Customer>;
  /** A single-use token for a test card (default the approved one). */
  tokenizeCard(customer: Customer, cardNumber?: string): Promise<string>;
  placeOrder(
    customer: Customer,
    productId: string,
    cardToken: string,
    signal: AbortSignal,
    choice?: OrderChoice,
  ): Promise<Order>;
  /** The customer's own order, now. */
  getOrder(customer: Customer, orderId: string): Promise<Order>;
  /** Cancels a customer's order that is not terminal yet (FailedPrecondition once CONFIRMED). */
  cancelOrder(customer: Customer, orderId: string): Promise<Order>;
  /** Resolves with the order once it is CONFIRMED or CANCELLED (WatchOrder ends there). */
  terminal(customer: Customer, orderId: string, signal: AbortSignal): Promise<Order>;
  /** The first `count` products of the catalogue. */
  products(count: number): Promise<string[]>;
  /** Adds `quantity` units of each product as the admin (so a long run does not sell out). */
  restock(productIds: readonly string[], quantity: number, admin: { email: string; password: string }): Promise<void>;
  close(): void;
}

/**
 * `callTimeoutMs` bounds each unary call (a caller under chaos must not wait
 * forever on a process that hangs); streams (WatchOrder) are not bounded.
 */
export function shopTarget(name: TargetName, addresses: ShopAddresses, callTimeoutMs?: number): ShopTarget {
  const timeout = callTimeoutMs === undefined ? {} : { timeoutMs: callTimeoutMs };
  const clients = new Http2Clients();
  const client = <S extends DescService>(service: S, baseUrl: string): Client<S> => clients.client(service, baseUrl);
  const storefront = client(StorefrontService, addresses.gateway);
  const identity = client(IdentityService, addresses.identity);
  const payment = client(PaymentService, addresses.payment);
  const orders = client(OrderService, addresses.order);
  const catalog = client(CatalogService, addresses.catalog);
  const inventory = client(InventoryService, addresses.inventory);
  const viaGateway = name === "gateway";

  /**
   * An order RPC through the gateway's storefront or straight to order (the
   * storefront's requests carry the same fields, which the contract check
   * keeps so): the order it answered with.
   */
  const orderStep = async <M extends "placeOrder" | "getOrder" | "cancelOrder">(
    method: M,
    req: Parameters<Client<typeof OrderService>[M]>[0],
    options: CallOptions,
  ): Promise<Order> => {
    const call = (viaGateway ? storefront[method] : orders[method]) as (
      req: Parameters<Client<typeof OrderService>[M]>[0],
      options: CallOptions,
    ) => Promise<{ order?: Order }>;
    const { order } = await call(req, options);
    if (!order) throw new Error(`${method} answered without an order`);
    return order;
  };

  const card = {
    cardNumber: APPROVED_CARD,
    expMonth: 12,
    expYear: new Date().getFullYear() + 2,
    cvc: "123",
    cardholderName: "Load Generator",
  };

  return {
    name,
    async signUp() {
      const email = `load-${randomUUID()}@shop.test`;
      const account = { email, password: "load generator password", displayName: "Load Generator" };
      const token = viaGateway
        ? (await storefront.signUp(account)).session?.accessToken?.token
        : (await identity.register(account)).accessToken?.token;
      if (!token) throw new Error("sign-up answered without an access token");
      return { email, headers: new Headers({ authorization: `Bearer ${token}` }) };
    },
    async tokenizeCard(customer, cardNumber = APPROVED_CARD) {
      const options = { headers: customer.headers, ...timeout };
      const req = { ...card, cardNumber };
      const res = viaGateway ? await storefront.tokenizeCard(req, options) : await payment.tokenizeCard(req, options);
      return res.cardToken;
    },
    placeOrder(customer, productId, cardToken, signal, choice = {}) {
      const req = {
        idempotencyKey: choice.idempotencyKey ?? `load-${randomUUID()}`,
        lines: [{ productId, quantity: choice.quantity ?? 1 }],
        cardToken,
      };
      return orderStep("placeOrder", req, { headers: customer.headers, signal, ...timeout });
    },
    getOrder(customer, orderId) {
      return orderStep("getOrder", { orderId }, { headers: customer.headers, ...timeout });
    },
    cancelOrder(customer, orderId) {
      return orderStep("cancelOrder", { orderId }, { headers: customer.headers, ...timeout });
    },
    async terminal(customer, orderId, signal) {
      const options = { headers: customer.headers, signal };
      const stream = viaGateway ? storefront.watchOrder({ orderId }, options) : orders.watchOrder({ orderId }, options);
      for await (const { order } of stream) if (order && TERMINAL.has(order.status)) return order;
      throw new Error(`WatchOrder of ${orderId} ended before a terminal state`);
    },
    async products(count) {
      const found: string[] = [];
      let pageToken = "";
      do {
        const page = viaGateway
          ? await storefront.listProducts({ pageSize: 100, pageToken })
          : await catalog.listProducts({ pageSize: 100, pageToken });
        for (const p of page.products) {
          const id = "product" in p ? p.product?.id : (p as { id: string }).id;
          if (id) found.push(id);
        }
        pageToken = page.nextPageToken;
      } while (pageToken && found.length < count);
      return found.slice(0, count);
    },
    async restock(productIds, quantity, admin) {
      const login = await identity.login(admin);
      const headers = new Headers({ authorization: `Bearer ${login.accessToken?.token ?? ""}` });
      for (const productId of productIds) {
        await inventory.restock({ restockId: randomUUID(), productId, quantity: BigInt(quantity) }, { headers });
      }
    },
    close() {
      clients.close();
    },
  };
}
