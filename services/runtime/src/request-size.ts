// How large a request to a method can legitimately be, from its contract:
// every string, bytes, list and map of a request has a limit in the .proto
// (tests/contracts/request-limits.test.ts keeps it so), which bounds the
// encoded size of any valid request. Each method's readMaxBytes is that
// bound with a wide margin, so most methods read at most 64 KiB, however
// large the server-wide READ_MAX_BYTES: a 90 KB request of 30,000 ids for a
// method that takes 100 is refused before it is decoded.
import {
  getOption,
  isFieldSet,
  ScalarType,
  type DescField,
  type DescMessage,
  type DescMethod,
} from "@bufbuild/protobuf";
import {
  BytesRulesSchema,
  field as fieldRulesOption,
  MapRulesSchema,
  RepeatedRulesSchema,
  StringRulesSchema,
  type FieldRules,
} from "@bufbuild/protovalidate/gen/buf/validate/validate_pb.js";

/** No method is limited below this: room for unknown fields from newer clients, and for JSON. */
export const MIN_METHOD_READ_MAX_BYTES = 64 * 1024;
/**
 * The limit is this many times the largest binary encoding: JSON spells out
 * field names, quotes and escapes (a control character is 6 bytes), and
 * int64s become decimal strings.
 */
const JSON_FACTOR = 8;
/** Tag plus length prefix of one field, at most. */
const FIELD_OVERHEAD = 10;
/** Nested messages deeper than this count as unbounded (recursive types). */
const MAX_DEPTH = 16;

/** The read limit of `method`: its contract's bound with margin, never above `ceiling`. */
export function methodReadMaxBytes(method: DescMethod, ceiling: number): number {
  const bound = maxEncodedSize(method.input, 0);
  if (!Number.isFinite(bound)) return ceiling;
  return Math.min(ceiling, Math.max(MIN_METHOD_READ_MAX_BYTES, JSON_FACTOR * bound));
}

/** Largest binary encoding of a valid `message`, or Infinity if its contract does not bound it. */
export function maxEncodedSize(message: DescMessage, depth: number): number {
  if (depth > MAX_DEPTH) return Infinity;
  if (message.typeName === "google.protobuf.Timestamp" || message.typeName === "google.protobuf.Duration") return 24;
  let total = 0;
  for (const field of message.fields)
    total += FIELD_OVERHEAD + fieldSize(field, getOption(field, fieldRulesOption), depth);
  return total;
}

function fieldSize(field: DescField, rules: FieldRules, depth: number): number {
  switch (field.fieldKind) {
    case "scalar":
      return scalarSize(field.scalar, rules);
    case "enum":
      return 10;
    case "message":
      return maxEncodedSize(field.message, depth + 1);
    case "list": {
      const t = rules.type;
      if (t.case !== "repeated" || !isFieldSet(t.value, RepeatedRulesSchema.field.maxItems)) return Infinity;
      const item =
        field.listKind === "scalar"
          ? scalarSize(field.scalar, t.value.items)
          : field.listKind === "enum"
            ? 10
            : maxEncodedSize(field.message, depth + 1);
      return Number(t.value.maxItems) * (FIELD_OVERHEAD + item);
    }
    case "map": {
      const t = rules.type;
      if (t.case !== "map" || !isFieldSet(t.value, MapRulesSchema.field.maxPairs)) return Infinity;
      const key = scalarSize(field.mapKey, t.value.keys);
      const value =
        field.mapKind === "scalar"
          ? scalarSize(field.scalar, t.value.values)
          : field.mapKind === "enum"
            ? 10
            : maxEncodedSize(field.message, depth + 1);
      return Number(t.value.maxPairs) * (3 * FIELD_OVERHEAD + key + value);
    }
  }
}

function scalarSize(scalar: ScalarType, rules: FieldRules | undefined): number {
  switch (scalar) {
    case ScalarType.STRING: {
      if (rules?.type.case !== "string") return Infinity;
      const s = rules.type.value;
      // Limits count code points; one is at most 4 bytes of UTF-8.
      if (isFieldSet(s, StringRulesSchema.field.maxLen)) return 4 * Number(s.maxLen);
      if (isFieldSet(s, StringRulesSchema.field.len)) return 4 * Number(s.len);
      if (s.wellKnown.case === "uuid" && s.wellKnown.value) return 36;
      return Infinity;
    }
    case ScalarType.BYTES:
      return rules?.type.case === "bytes" && isFieldSet(rules.type.value, BytesRulesSchema.field.maxLen)
        ? Number(rules.type.value.maxLen)
        : Infinity;
    case ScalarType.BOOL:
      return 1;
    case ScalarType.FIXED32:
    case ScalarType.SFIXED32:
    case ScalarType.FLOAT:
      return 4;
    case ScalarType.FIXED64:
    case ScalarType.SFIXED64:
    case ScalarType.DOUBLE:
      return 8;
    default:
      return 10; // varints
  }
}
