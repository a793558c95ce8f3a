// Every request a service accepts is bounded by its contract: each string has
// a length limit (max_len, len, or a uuid rule, which fixes the length), each
// bytes field a max_len, each list a max_items, each map a max_pairs, in every
// message reachable from an RPC's request type. The runtime's validation
// checks these bounds before any other rule (services/runtime/src/
// interceptors/validation.ts), so a new field without one would let a caller
// make a service do unbounded work. Covers every RPC in gen/ without edits.
import { isFieldSet, getOption, ScalarType, type DescField, type DescMessage } from "@bufbuild/protobuf";
import {
  BytesRulesSchema,
  field as fieldRules,
  MapRulesSchema,
  RepeatedRulesSchema,
  StringRulesSchema,
  type FieldRules,
} from "@bufbuild/protovalidate/gen/buf/validate/validate_pb.js";
import { describe, expect, it } from "vitest";
import { generatedFiles } from "./generated-files.ts";

function stringBounded(rules: FieldRules | undefined): boolean {
  if (rules?.type.case !== "string") return false;
  const s = rules.type.value;
  return (
    isFieldSet(s, StringRulesSchema.field.maxLen) ||
    isFieldSet(s, StringRulesSchema.field.len) ||
    (s.wellKnown.case === "uuid" && s.wellKnown.value)
  );
}

function bytesBounded(rules: FieldRules | undefined): boolean {
  return rules?.type.case === "bytes" && isFieldSet(rules.type.value, BytesRulesSchema.field.maxLen);
}

/** Fields of `message` (and of messages it contains) that lack a bound, as "Message.field" paths. */
function unbounded(message: DescMessage, seen = new Set<DescMessage>()): string[] {
  if (seen.has(message) || message.typeName.startsWith("google.protobuf.")) return [];
  seen.add(message);
  const problems: string[] = [];
  const check = (field: DescField, ok: boolean, what: string) => {
    if (!ok) problems.push(`${message.typeName}.${field.name}: ${what}`);
  };
  for (const field of message.fields) {
    const rules = getOption(field, fieldRules);
    const scalarOf = (scalar: ScalarType | undefined, itemRules: FieldRules | undefined) => {
      if (scalar === ScalarType.STRING) check(field, stringBounded(itemRules), "string without max_len");
      if (scalar === ScalarType.BYTES) check(field, bytesBounded(itemRules), "bytes without max_len");
    };
    switch (field.fieldKind) {
      case "scalar":
        scalarOf(field.scalar, rules);
        break;
      case "message":
        problems.push(...unbounded(field.message, seen));
        break;
      case "list":
        check(
          field,
          rules.type.case === "repeated" && isFieldSet(rules.type.value, RepeatedRulesSchema.field.maxItems),
          "list without max_items",
        );
        if (field.listKind === "scalar")
          scalarOf(field.scalar, rules.type.case === "repeated" ? rules.type.value.items : undefined);
        if (field.listKind === "message") problems.push(...unbounded(field.message, seen));
        break;
      case "map":
        check(
          field,
          rules.type.case === "map" && isFieldSet(rules.type.value, MapRulesSchema.field.maxPairs),
          "map without max_pairs",
        );
        break;
      case "enum":
        break;
    }
  }
  return problems;
}

const methods = generatedFiles.flatMap((file) => file.services.flatMap((s) => s.methods));

describe("request limits in the contracts", () => {
  it("covers every RPC", () => {
    expect(methods.length).toBeGreaterThan(30);
  });

  for (const method of methods) {
    it(`${method.parent.typeName}/${method.name}: every string, bytes, list and map of the request is bounded`, () => {
      expect(unbounded(method.input)).toEqual([]);
    });
  }
});
