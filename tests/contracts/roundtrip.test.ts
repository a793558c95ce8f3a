// Every message of every contract survives binary and JSON serialisation with
// every field set, which catches field-number clashes, JSON-name collisions and
// types that cannot be represented on one of the two wire formats.
import {
  create,
  createRegistry,
  equals,
  fromBinary,
  fromJson,
  toBinary,
  toJson,
  type DescField,
  type DescMessage,
  type Message,
} from "@bufbuild/protobuf";
import { reflect, type ReflectMessage } from "@bufbuild/protobuf/reflect";
import { ScalarType } from "@bufbuild/protobuf";
import { describe, expect, it } from "vitest";
import { contractMessages, generatedFiles } from "./generated-files.ts";

const registry = createRegistry(...generatedFiles);

function sampleScalar(type: ScalarType, seed: number): unknown {
  switch (type) {
    case ScalarType.STRING:
      return `value-${seed}-ü`;
    case ScalarType.BYTES:
      return new Uint8Array([seed % 256, 0, 255]);
    case ScalarType.BOOL:
      return true;
    case ScalarType.DOUBLE:
    case ScalarType.FLOAT:
      return seed + 0.5;
    case ScalarType.INT64:
    case ScalarType.SINT64:
    case ScalarType.SFIXED64:
      return BigInt(-seed) * 1_000_000_007n;
    case ScalarType.UINT64:
    case ScalarType.FIXED64:
      return BigInt(seed) * 1_000_000_007n;
    case ScalarType.UINT32:
    case ScalarType.FIXED32:
      return seed;
    default:
      return -seed;
  }
}

/** Sets every field of `r` to a non-default value, two levels of nesting deep. */
function fill(r: ReflectMessage, depth: number): number {
  if (r.desc.typeName === "google.protobuf.Timestamp") {
    // JSON can only carry timestamps between years 1 and 9999.
    r.set(r.desc.fields[0], 1_790_000_000n + BigInt(depth));
    r.set(r.desc.fields[1], 123_000);
    return 2;
  }
  let set = 0;
  for (const field of r.fields) {
    if (field.oneof && r.oneofCase(field.oneof) !== undefined) continue;
    const seed = field.number + depth * 100;
    set += setSample(r, field, seed, depth);
  }
  return set;
}

function setSample(r: ReflectMessage, field: DescField, seed: number, depth: number): number {
  switch (field.fieldKind) {
    case "scalar":
      r.set(field, sampleScalar(field.scalar, seed));
      return 1;
    case "enum":
      r.set(field, field.enum.values[field.enum.values.length - 1].number);
      return 1;
    case "message": {
      if (depth > 2) return 0;
      const child = reflect(field.message);
      fill(child, depth + 1);
      r.set(field, child);
      return 1;
    }
    case "list": {
      const list = r.get(field);
      if (field.listKind === "scalar") list.add(sampleScalar(field.scalar, seed));
      else if (field.listKind === "enum") list.add(field.enum.values[field.enum.values.length - 1].number);
      else {
        if (depth > 2) return 0;
        const child = reflect(field.message);
        fill(child, depth + 1);
        list.add(child);
      }
      return 1;
    }
    case "map": {
      const map = r.get(field);
      const key = field.mapKey === ScalarType.STRING ? "key" : field.mapKey === ScalarType.BOOL ? true : 7;
      if (field.mapKind === "scalar") map.set(key, sampleScalar(field.scalar, seed));
      else if (field.mapKind === "enum") map.set(key, field.enum.values[field.enum.values.length - 1].number);
      else {
        if (depth > 2) return 0;
        const child = reflect(field.message);
        fill(child, depth + 1);
        map.set(key, child);
      }
      return 1;
    }
  }
}

function filled(schema: DescMessage): { message: Message; fieldsSet: number } {
  const r = reflect(schema);
  const fieldsSet = fill(r, 0);
  return { message: r.message, fieldsSet };
}

describe("contract messages round-trip", () => {
  it("finds the generated contracts", () => {
    const packages = new Set(generatedFiles.map((f) => f.proto.package));
    expect([...packages].sort()).toEqual([
      "shop.catalog.v1",
      "shop.common.v1",
      "shop.identity.v1",
      "shop.inventory.v1",
      "shop.notification.v1",
      "shop.ops.v1",
      "shop.order.v1",
      "shop.payment.v1",
      "shop.storefront.v1",
    ]);
    expect(contractMessages.length).toBeGreaterThan(80);
  });

  it.each(contractMessages.map((m) => [m.typeName, m] as const))("%s through binary and JSON", (_, schema) => {
    const { message, fieldsSet } = filled(schema);
    const populated = schema.fields.filter((f) => !f.oneof).length;
    expect(fieldsSet).toBeGreaterThanOrEqual(Math.min(populated, 1));

    const binary = toBinary(schema, message);
    const fromWire = fromBinary(schema, binary);
    expect(equals(schema, fromWire, message)).toBe(true);

    const json = toJson(schema, message, { registry });
    const fromText = fromJson(schema, json, { registry });
    expect(equals(schema, fromText, message)).toBe(true);
    if (schema.fields.length > 0) expect(Object.keys(json as object).length).toBeGreaterThan(0);

    // The empty message is also a valid value of every contract type.
    const empty = create(schema);
    expect(equals(schema, fromBinary(schema, toBinary(schema, empty)), empty)).toBe(true);
  });
});
