// The storefront re-declares the request messages it forwards to the domain
// services (SignUpRequest for identity's RegisterRequest, and so on) so its
// API can differ where the web app needs it to. Where a field is forwarded
// under the same name, it must carry the same validation rules as the
// domain's field: stricter at the edge rejects what the service would accept
// (a user sees an error the service never gives), looser lets through what
// the service then refuses one hop later. Rules are compared as protovalidate
// messages read from the generated descriptors, nested messages included.
import { getOption, toJsonString, type DescMessage, type DescMethod } from "@bufbuild/protobuf";
import {
  field as fieldRules,
  FieldRulesSchema,
  message as messageRules,
  MessageRulesSchema,
} from "@bufbuild/protovalidate/gen/buf/validate/validate_pb.js";
import { CatalogService } from "@shop/gen/shop/catalog/v1/catalog_pb";
import { IdentityService } from "@shop/gen/shop/identity/v1/identity_pb";
import { NotificationService } from "@shop/gen/shop/notification/v1/notification_pb";
import { OrderService } from "@shop/gen/shop/order/v1/order_pb";
import { PaymentService } from "@shop/gen/shop/payment/v1/payment_pb";
import { StorefrontService } from "@shop/gen/shop/storefront/v1/storefront_pb";
import { describe, expect, it } from "vitest";

const storefront = StorefrontService.method;

/** Storefront method -> the domain method its gateway handler forwards to (services/gateway/src/storefront-service.ts). */
const forwards: [DescMethod, DescMethod][] = [
  [storefront.signUp, IdentityService.method.register],
  [storefront.signIn, IdentityService.method.login],
  [storefront.listProducts, CatalogService.method.listProducts],
  [storefront.searchProducts, CatalogService.method.searchProducts],
  [storefront.getProduct, CatalogService.method.getProduct],
  [storefront.tokenizeCard, PaymentService.method.tokenizeCard],
  [storefront.placeOrder, OrderService.method.placeOrder],
  [storefront.cancelOrder, OrderService.method.cancelOrder],
  [storefront.getOrder, OrderService.method.getOrder],
  [storefront.listOrders, OrderService.method.listOrders],
  [storefront.watchOrder, OrderService.method.watchOrder],
  [storefront.listNotifications, NotificationService.method.listNotifications],
];

const fieldRulesJson = (field: DescMessage["fields"][number]) =>
  toJsonString(FieldRulesSchema, getOption(field, fieldRules));
const messageRulesJson = (message: DescMessage) => toJsonString(MessageRulesSchema, getOption(message, messageRules));

interface Comparison {
  compared: string[];
  differences: string[];
}

/** Same-named fields of the two messages (recursively), and where their rules differ. */
function compare(
  edge: DescMessage,
  domain: DescMessage,
  path: string,
  out: Comparison,
  seen = new Set<string>(),
): void {
  const key = `${edge.typeName}|${domain.typeName}`;
  if (edge === domain || seen.has(key)) return;
  seen.add(key);
  if (messageRulesJson(edge) !== messageRulesJson(domain)) {
    out.differences.push(`${path}: message rules ${messageRulesJson(edge)} vs ${messageRulesJson(domain)}`);
  }
  for (const field of edge.fields) {
    const twin = domain.fields.find((f) => f.name === field.name);
    if (!twin) continue;
    const where = `${path}.${field.name}`;
    out.compared.push(where);
    const [a, b] = [fieldRulesJson(field), fieldRulesJson(twin)];
    if (a !== b) out.differences.push(`${where}: ${edge.typeName} ${a} vs ${domain.typeName} ${b}`);
    const edgeMessage = field.message;
    const domainMessage = twin.message;
    if (edgeMessage && domainMessage) compare(edgeMessage, domainMessage, where, out, seen);
  }
}

describe("storefront requests forward with the domain's rules", () => {
  it.each(forwards.map(([edge, domain]) => [`${edge.name} -> ${domain.parent.name}.${domain.name}`, edge, domain]))(
    "%s",
    (_label, edge, domain) => {
      const out: Comparison = { compared: [], differences: [] };
      compare(edge.input, domain.input, edge.input.name, out);
      expect(out.differences).toEqual([]);
      // A rename on either side would make this check vacuous: say so.
      if (edge.input.fields.length > 0) expect(out.compared.length, "fields compared").toBeGreaterThan(0);
    },
  );
});
