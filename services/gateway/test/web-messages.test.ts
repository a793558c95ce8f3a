// The web app's message catalogue against the contract: every rule the
// storefront's forms can break (protovalidate's rules in storefront.proto,
// run here exactly as the gateway runs them, and the rules services check in
// code) has words of its own for its field, so a shopper never sees the
// generic fallback, let alone the server's text. Also the card number's
// grouping as it is typed.
import { create, type DescMessage, type MessageInitShape } from "@bufbuild/protobuf";
import { createValidator, violationsToProto } from "@bufbuild/protovalidate";
import {
  PlaceOrderRequestSchema,
  SignInRequestSchema,
  SignUpRequestSchema,
  TokenizeCardRequestSchema,
} from "@shop/gen/shop/storefront/v1/storefront_pb";
import { describe, expect, it } from "vitest";
import { caretAfterDigits, cardDigits, groupCardNumber } from "../web/src/card-number.ts";
import { fieldPathText } from "../web/src/errors.ts";
import { fieldMessage, hasFieldMessage } from "../web/src/messages.ts";

const validator = createValidator();

/** [field path, rule id] of every rule `init` breaks. */
function broken<D extends DescMessage>(schema: D, init: MessageInitShape<D>): [string, string][] {
  const result = validator.validate(schema, create(schema, init));
  if (result.kind !== "invalid") return [];
  return violationsToProto(result.violations)[0].violations.map((v) => [fieldPathText(v.field), v.ruleId]);
}

const long = (n: number) => "x".repeat(n);
const address = {
  name: "Ada Lovelace",
  line1: "12 Harbour Road",
  line2: "",
  city: "Dublin",
  postalCode: "D02 X285",
  region: "",
  countryCode: "IE",
};
const order = {
  idempotencyKey: "checkout-0001",
  cardToken: "tok",
  lines: [{ productId: "019b76da-a800-7064-9c80-317fa3b1799d", quantity: 1 }],
  shippingAddress: address,
};
const signUp = { email: "a@b.co", password: long(12), displayName: "Ada" };
const card = { cardNumber: "4242424242424242", expMonth: 12, expYear: 2030, cvc: "123", cardholderName: "Ada" };

/** A wrong value for every field of every storefront form, each breaking what it can. */
const samples: [string, [string, string][]][] = [
  ...[{ email: "" }, { email: "ada@" }, { email: `${long(250)}@x.io` }].map(
    (bad) =>
      [`sign-up ${JSON.stringify(bad).slice(0, 40)}`, broken(SignUpRequestSchema, { ...signUp, ...bad })] as [
        string,
        [string, string][],
      ],
  ),
  ...[
    { password: "" },
    { password: "short" },
    { password: long(129) },
    { displayName: "" },
    { displayName: long(81) },
  ].map(
    (bad) =>
      [`sign-up ${JSON.stringify(bad).slice(0, 40)}`, broken(SignUpRequestSchema, { ...signUp, ...bad })] as [
        string,
        [string, string][],
      ],
  ),
  ["sign-in empty", broken(SignInRequestSchema, { email: "", password: "" })],
  ...[
    { cardNumber: "" },
    { cardNumber: "4242-4242" },
    { expMonth: 0 },
    { expMonth: 13 },
    { expYear: 0 },
    { cvc: "" },
    { cvc: "12345" },
    { cardholderName: "" },
    { cardholderName: long(101) },
  ].map(
    (bad) =>
      [`card ${JSON.stringify(bad)}`, broken(TokenizeCardRequestSchema, { ...card, ...bad })] as [
        string,
        [string, string][],
      ],
  ),
  ...[
    { name: "" },
    { name: "   " },
    { name: long(101) },
    { line1: "" },
    { line1: " " },
    { line1: long(201) },
    { line2: long(201) },
    { city: "" },
    { city: long(101) },
    { postalCode: "??" },
    { postalCode: long(13) },
    { region: long(101) },
    { countryCode: "" },
    { countryCode: "ie" },
  ].map(
    (bad) =>
      [
        `address ${JSON.stringify(bad).slice(0, 40)}`,
        broken(PlaceOrderRequestSchema, { ...order, shippingAddress: { ...address, ...bad } }),
      ] as [string, [string, string][]],
  ),
  ["contact email", broken(PlaceOrderRequestSchema, { ...order, contactEmail: "ada at home" })],
  ["contact email too long", broken(PlaceOrderRequestSchema, { ...order, contactEmail: `${long(250)}@x.io` })],
  [
    "quantity",
    broken(PlaceOrderRequestSchema, { ...order, lines: [{ productId: order.lines[0].productId, quantity: 0 }] }),
  ],
];

/** Rules the services check in code (fieldViolation), with the fields they name. */
const codeRules: [string, string][] = [
  ["password", "password.policy"],
  ["display_name", "display_name.blank"],
  ["card_number", "card_number.luhn"],
  ["exp_month", "card.expired"],
  ["exp_year", "card.expired"],
];

describe("the message catalogue", () => {
  it("every sample breaks a rule (so the check below checks something)", () => {
    for (const [name, rules] of samples) expect(rules.length, name).toBeGreaterThan(0);
  });

  it.each(samples)("has words for every rule a form can break: %s", (_name, rules) => {
    for (const [path, rule] of rules) expect(hasFieldMessage(path, rule), `${path} ${rule}`).toBe(true);
  });

  it.each(codeRules)("has words for %s's %s, checked by a service in code", (path, rule) => {
    expect(hasFieldMessage(path, rule)).toBe(true);
  });

  it("finds a list field's words whatever the index, and falls back to plain words for the unknown", () => {
    expect(fieldMessage("lines[7].quantity", "int32.gte_lte")).toBe("Order between 1 and 100 of each product.");
    expect(fieldMessage("some_field", "string.max_len")).toBe("This is too long.");
    expect(fieldMessage("some_field", "some.rule")).toBe("Check what you entered here.");
  });
});

describe("card numbers as typed", () => {
  it("are grouped in fours, American Express 4-6-5, with digits only sent", () => {
    expect(groupCardNumber("4242424242424242")).toBe("4242 4242 4242 4242");
    expect(groupCardNumber("424242")).toBe("4242 42");
    expect(groupCardNumber("378282246310005")).toBe("3782 822463 10005");
    expect(cardDigits("4242 4242-4242x4242 9999")).toBe("4242424242424242999");
  });

  it("keep the caret after the digit it followed", () => {
    // "4242 4|" -> after 5 digits.
    expect(caretAfterDigits("4242 4242", 5)).toBe(6);
    expect(caretAfterDigits("4242 4242", 4)).toBe(4);
    expect(caretAfterDigits("4242", 0)).toBe(0);
  });
});
