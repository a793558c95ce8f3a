// The validation rules written in the contracts do what their doc comments
// say: for each service, invalid requests are rejected on the right field and
// a valid request passes. The runtime enforces exactly these rules server-side.
import { create, type DescMessage, type MessageInitShape } from "@bufbuild/protobuf";
import { pathToString } from "@bufbuild/protobuf/reflect";
import { createValidator } from "@bufbuild/protovalidate";
import { describe, expect, it } from "vitest";
import {
  CreateProductRequestSchema,
  ListProductsRequestSchema,
  SearchProductsRequestSchema,
  BatchGetProductsRequestSchema,
  UpdateProductRequestSchema,
} from "@shop/gen/shop/catalog/v1/catalog_pb";
import {
  LoginRequestSchema,
  RegisterRequestSchema,
  GetUserRequestSchema,
} from "@shop/gen/shop/identity/v1/identity_pb";
import { RestockRequestSchema, BatchGetStockRequestSchema } from "@shop/gen/shop/inventory/v1/inventory_pb";
import { ListNotificationsRequestSchema } from "@shop/gen/shop/notification/v1/notification_pb";
import { ReplayDeadLetterRequestSchema } from "@shop/gen/shop/ops/v1/dead_letters_pb";
import {
  CancelOrderRequestSchema,
  PlaceOrderRequestSchema,
  WatchOrderRequestSchema,
} from "@shop/gen/shop/order/v1/order_pb";
import { TokenizeCardRequestSchema, ListPaymentsRequestSchema } from "@shop/gen/shop/payment/v1/payment_pb";
import {
  SignUpRequestSchema,
  PlaceOrderRequestSchema as StorefrontPlaceOrderRequestSchema,
} from "@shop/gen/shop/storefront/v1/storefront_pb";

const validator = createValidator();

const productId = "0190b3a1-7c2e-7b4c-9d1e-2f3a4b5c6d7e";
const otherProductId = "0190b3a1-7c2e-7b4c-9d1e-2f3a4b5c6d7f";

interface Case<S extends DescMessage = DescMessage> {
  name: string;
  schema: S;
  valid: MessageInitShape<S>;
  invalid: Partial<MessageInitShape<S>>;
  field: string;
}

function c<S extends DescMessage>(
  name: string,
  schema: S,
  valid: MessageInitShape<S>,
  invalid: Partial<MessageInitShape<S>>,
  field: string,
): Case {
  return { name, schema, valid, invalid, field };
}

const register = { email: "ada@example.com", password: "correct horse battery", displayName: "Ada" };
const card = {
  cardNumber: "4242424242424242",
  expMonth: 12,
  expYear: 2030,
  cvc: "123",
  cardholderName: "Ada Lovelace",
};
const placeOrder = { idempotencyKey: "checkout-0001", lines: [{ productId, quantity: 1 }], cardToken: "tok_123" };
const newProduct = {
  sku: "KIT-KETTLE-01",
  name: "Kettle",
  description: "Boils water.",
  categoryId: "kitchen",
  price: { currencyCode: "EUR", amountMinor: 2999n },
  imageUrl: "/images/kettle.svg",
};

const cases: Case[] = [
  // identity
  c("register: malformed email", RegisterRequestSchema, register, { email: "not-an-email" }, "email"),
  c("register: short password", RegisterRequestSchema, register, { password: "short" }, "password"),
  c("register: empty display name", RegisterRequestSchema, register, { displayName: "" }, "display_name"),
  c(
    "login: empty password",
    LoginRequestSchema,
    { email: "ada@example.com", password: "x" },
    { password: "" },
    "password",
  ),
  c("get user: id not a uuid", GetUserRequestSchema, { userId: productId }, { userId: "42" }, "user_id"),
  // catalog
  c("create product: lower-case sku", CreateProductRequestSchema, newProduct, { sku: "kettle" }, "sku"),
  c(
    "create product: zero price",
    CreateProductRequestSchema,
    newProduct,
    { price: { currencyCode: "EUR", amountMinor: 0n } },
    "price",
  ),
  c("create product: missing price", CreateProductRequestSchema, newProduct, { price: undefined }, "price"),
  c(
    "create product: not an ISO 4217 currency",
    CreateProductRequestSchema,
    newProduct,
    { price: { currencyCode: "ZZZ", amountMinor: 100n } },
    "price.currency_code",
  ),
  c(
    "create product: price so large that an order total could overflow int64",
    CreateProductRequestSchema,
    newProduct,
    { price: { currencyCode: "EUR", amountMinor: 2n ** 62n } },
    "price",
  ),
  c("update product: empty name", UpdateProductRequestSchema, { productId, name: "Kettle 2" }, { name: "" }, "name"),
  c("list products: page size too large", ListProductsRequestSchema, { pageSize: 100 }, { pageSize: 101 }, "page_size"),
  c(
    "list products: bad category",
    ListProductsRequestSchema,
    { categoryId: "kitchen" },
    { categoryId: "Kitchen!" },
    "category_id",
  ),
  c("search: empty query", SearchProductsRequestSchema, { query: "kettle" }, { query: "" }, "query"),
  c(
    "batch get: duplicate ids",
    BatchGetProductsRequestSchema,
    { productIds: [productId, otherProductId] },
    { productIds: [productId, productId] },
    "product_ids",
  ),
  c(
    "batch get: bad id",
    BatchGetProductsRequestSchema,
    { productIds: [productId] },
    { productIds: [productId, "nope"] },
    "product_ids[1]",
  ),
  // inventory
  c(
    "restock: zero quantity",
    RestockRequestSchema,
    { restockId: otherProductId, productId, quantity: 5n },
    { quantity: 0n },
    "quantity",
  ),
  c(
    "restock: missing restock id",
    RestockRequestSchema,
    { restockId: otherProductId, productId, quantity: 5n },
    { restockId: "" },
    "restock_id",
  ),
  c(
    "batch get stock: empty",
    BatchGetStockRequestSchema,
    { productIds: [productId] },
    { productIds: [] },
    "product_ids",
  ),
  // payment
  c(
    "tokenize: letters in card number",
    TokenizeCardRequestSchema,
    card,
    { cardNumber: "4242abcd42424242" },
    "card_number",
  ),
  c("tokenize: month 13", TokenizeCardRequestSchema, card, { expMonth: 13 }, "exp_month"),
  c("tokenize: 2-digit cvc", TokenizeCardRequestSchema, card, { cvc: "12" }, "cvc"),
  c(
    "list payments: bad order id",
    ListPaymentsRequestSchema,
    { orderId: productId },
    { orderId: "order-1" },
    "order_id",
  ),
  // order
  c(
    "place order: short idempotency key",
    PlaceOrderRequestSchema,
    placeOrder,
    { idempotencyKey: "abc" },
    "idempotency_key",
  ),
  c("place order: no lines", PlaceOrderRequestSchema, placeOrder, { lines: [] }, "lines"),
  c(
    "place order: zero quantity",
    PlaceOrderRequestSchema,
    placeOrder,
    { lines: [{ productId, quantity: 0 }] },
    "lines[0].quantity",
  ),
  c(
    "place order: product twice",
    PlaceOrderRequestSchema,
    placeOrder,
    {
      lines: [
        { productId, quantity: 1 },
        { productId, quantity: 2 },
      ],
    },
    "lines",
  ),
  c("place order: no card token", PlaceOrderRequestSchema, placeOrder, { cardToken: "" }, "card_token"),
  c("cancel order: bad id", CancelOrderRequestSchema, { orderId: productId }, { orderId: "x" }, "order_id"),
  c("watch order: bad id", WatchOrderRequestSchema, { orderId: productId }, { orderId: "" }, "order_id"),
  // notification
  c(
    "list notifications: negative page size",
    ListNotificationsRequestSchema,
    { pageSize: 10 },
    { pageSize: -1 },
    "page_size",
  ),
  // ops
  c(
    "replay dead letter: bad id",
    ReplayDeadLetterRequestSchema,
    { deadLetterId: productId },
    { deadLetterId: "1" },
    "dead_letter_id",
  ),
  // storefront
  c("sign up: malformed email", SignUpRequestSchema, register, { email: "ada@" }, "email"),
  c(
    "storefront place order: bad line product",
    StorefrontPlaceOrderRequestSchema,
    placeOrder,
    { lines: [{ productId: "p1", quantity: 1 }] },
    "lines[0].product_id",
  ),
];

describe("contract validation rules", () => {
  it("covers every service", () => {
    const packages = new Set(cases.map((k) => k.schema.file.proto.package));
    expect(packages.size).toBe(8);
  });

  it.each(cases.map((k) => [k.name, k] as const))("%s", (_, k) => {
    const valid = validator.validate(k.schema, create(k.schema, k.valid));
    expect(valid.kind, `valid sample: ${valid.kind === "invalid" ? valid.violations.map(String).join("; ") : ""}`).toBe(
      "valid",
    );

    const result = validator.validate(k.schema, create(k.schema, { ...k.valid, ...k.invalid }));
    expect(result.kind).toBe("invalid");
    if (result.kind !== "invalid") return;
    expect(result.violations.map((v) => pathToString(v.field))).toEqual([k.field]);
  });
});
