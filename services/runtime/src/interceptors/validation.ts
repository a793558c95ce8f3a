// Validation of every request message against the protovalidate rules in the
// .proto, before any handler runs: unary requests up front, streamed requests
// one by one as the handler reads them.
//
// A violation becomes InvalidArgument whose message names the field path
// (e.g. `product_id: value must be a valid UUID [string.uuid]`), with the
// violations attached as a buf.validate.Violations error detail so clients
// can map them onto form fields.
//
// Validation must not become the weapon: protovalidate evaluates every rule
// of every list item, so a list far over its max_items (30,000 ids where 100
// are allowed) would cost one violation per item and a CEL rule such as
// unique() over all of them. So a cheap first pass, compiled once per message
// type from the same rules, checks what bounds the work: list and map sizes,
// string lengths, and NUL characters (which no Postgres text column can
// store, so no free-text field may carry them). It stops at its first
// violation. Only a message within those bounds is handed to protovalidate,
// whose violations are then capped (MAX_VIOLATIONS, "and N more"), each
// message shortened, so an error's size is bounded too (and the error
// interceptor bounds every message).
//
// Why not @connectrpc/validate (0.2.0, checked 2026-12-03): its
// createValidateInterceptor runs the same protovalidate validator on the
// same messages (unary up front, streamed ones as they are read), but its
// only option is the validator, and what it lacks is what this file is for:
//   - no bounds pass: every message goes straight to protovalidate, so a list
//     far over its max_items costs per-item rules (and the NUL check, a rule
//     of ours that protovalidate does not have, has no place to go);
//   - no cap: the error message is protovalidate's text of every violation and
//     the detail carries all of them, so their size is the caller's choice.
//     The validator's failFast option stops at the first violation, which
//     loses "the first MAX_VIOLATIONS and how many more" that forms show;
//   - a rule that fails to compile or evaluate (our bug) answers
//     InvalidArgument, blaming the caller, where this answers Internal.
// Wrapping it would need all three around it, i.e. this file again.
import {
  getOption,
  isFieldSet,
  ScalarType,
  type DescField,
  type DescMessage,
  type MessageShape,
} from "@bufbuild/protobuf";
import type { Path } from "@bufbuild/protobuf/reflect";
import { createValidator, Violation, violationsToProto, type Validator } from "@bufbuild/protovalidate";
import {
  BytesRulesSchema,
  field as fieldRulesOption,
  MapRulesSchema,
  RepeatedRulesSchema,
  StringRulesSchema,
  type FieldRules,
} from "@bufbuild/protovalidate/gen/buf/validate/validate_pb.js";
import { Code, ConnectError, type Interceptor } from "@connectrpc/connect";

/**
 * At most this many violations are reported; the message says how many more
 * there were. With each violation's message cut to MAX_VIOLATION_MESSAGE
 * characters, message and details stay well inside the 8 KiB of metadata
 * gRPC clients accept in trailers.
 */
export const MAX_VIOLATIONS = 10;
const MAX_VIOLATION_MESSAGE = 120;

export function validationInterceptor(validator: Validator = createValidator()): Interceptor {
  // Not async: on every unary call, a valid request goes straight on.
  return (next) => (req) => {
    const schema = req.method.input;
    if (!req.stream) {
      try {
        assertValid(validator, schema, req.message);
      } catch (err) {
        return Promise.reject(err);
      }
      return next(req);
    }
    const messages = req.message;
    return next({
      ...req,
      message: (async function* () {
        for await (const message of messages) {
          assertValid(validator, schema, message);
          yield message;
        }
      })(),
    });
  };
}

export function assertValid<Desc extends DescMessage>(
  validator: Validator,
  schema: Desc,
  message: MessageShape<Desc>,
): void {
  const bound = checkBounds(boundsOf(schema), message, []);
  if (bound) throw invalid(schema, [bound]);
  const result = validator.validate(schema, message);
  if (result.kind === "valid") return;
  // A rule that fails to compile or evaluate is our bug, not the caller's:
  // rethrown as is, the error interceptor logs it and answers Internal.
  if (result.kind === "error") throw result.error;
  throw invalid(schema, result.violations);
}

function invalid(schema: DescMessage, all: readonly Violation[]): ConnectError {
  const shown = all.slice(0, MAX_VIOLATIONS).map((v) => {
    const message =
      v.message.length > MAX_VIOLATION_MESSAGE ? `${v.message.slice(0, MAX_VIOLATION_MESSAGE)}…` : v.message;
    return new Violation(message, v.ruleId, v.field, v.rule, v.forKey);
  });
  const more = all.length - shown.length;
  const text = shown.map((v) => v.toString()).join("; ") + (more > 0 ? `; and ${String(more)} more` : "");
  const [violations, desc] = violationsToProto(shown);
  return new ConnectError(`invalid ${schema.name}: ${text}`, Code.InvalidArgument, undefined, [
    { desc, value: violations },
  ]);
}

// ---- the bounds pass ----

/** What the bounds pass checks of one field, from its protovalidate rules. */
interface FieldBound {
  readonly field: DescField;
  /** Strings: the field itself, list items or map values (keys are checked as strings too). */
  readonly maxChars?: number;
  readonly maxBytes?: number;
  readonly maxItems?: number;
  /** The message type of the field, list items or map values, when it has bounds of its own. */
  readonly message?: MessageBounds;
}

interface MessageBounds {
  fields: FieldBound[];
}

const compiled = new Map<DescMessage, MessageBounds>();

/** The bounds of `schema`, compiled on first use (recursive types share one entry). */
function boundsOf(schema: DescMessage): MessageBounds {
  let bounds = compiled.get(schema);
  if (bounds) return bounds;
  bounds = { fields: [] };
  compiled.set(schema, bounds);
  for (const field of schema.fields) {
    const rules = getOption(field, fieldRulesOption);
    const bound = fieldBound(field, rules);
    if (bound) bounds.fields.push(bound);
  }
  return bounds;
}

function fieldBound(field: DescField, rules: FieldRules): FieldBound | undefined {
  const t = rules.type;
  const itemRules = t.case === "repeated" ? t.value.items : t.case === "map" ? t.value.values : rules;
  const bound: {
    field: DescField;
    maxChars?: number;
    maxBytes?: number;
    maxItems?: number;
    message?: MessageBounds;
  } = { field };
  // The rules are proto2: an unset limit reads as 0, so presence decides.
  if (t.case === "repeated" && isFieldSet(t.value, RepeatedRulesSchema.field.maxItems)) {
    bound.maxItems = Number(t.value.maxItems);
  }
  if (t.case === "map" && isFieldSet(t.value, MapRulesSchema.field.maxPairs)) bound.maxItems = Number(t.value.maxPairs);
  const it = itemRules?.type;
  if (it?.case === "string" && isFieldSet(it.value, StringRulesSchema.field.maxLen)) {
    bound.maxChars = Number(it.value.maxLen);
  }
  if (it?.case === "bytes" && isFieldSet(it.value, BytesRulesSchema.field.maxLen)) {
    bound.maxBytes = Number(it.value.maxLen);
  }
  const element = elementOf(field);
  if (element.kind === "message" && !element.message.typeName.startsWith("google.protobuf.")) {
    bound.message = boundsOf(element.message);
  }
  const checksSomething =
    element.kind === "string" ||
    field.fieldKind === "map" ||
    bound.maxItems !== undefined ||
    bound.maxBytes !== undefined ||
    bound.message !== undefined;
  return checksSomething ? bound : undefined;
}

type Element = { kind: "string" } | { kind: "bytes" } | { kind: "message"; message: DescMessage } | { kind: "other" };

/** The type of the field's value, list items or map values. */
function elementOf(field: DescField): Element {
  switch (field.fieldKind) {
    case "scalar":
      return scalarElement(field.scalar);
    case "list":
      return field.listKind === "scalar"
        ? scalarElement(field.scalar)
        : field.listKind === "message"
          ? { kind: "message", message: field.message }
          : { kind: "other" };
    case "map":
      return field.mapKind === "scalar"
        ? scalarElement(field.scalar)
        : field.mapKind === "message"
          ? { kind: "message", message: field.message }
          : { kind: "other" };
    case "message":
      return { kind: "message", message: field.message };
    default:
      return { kind: "other" };
  }
}

function scalarElement(scalar: ScalarType): Element {
  return scalar === ScalarType.STRING
    ? { kind: "string" }
    : scalar === ScalarType.BYTES
      ? { kind: "bytes" }
      : { kind: "other" };
}

/**
 * The first bound `message` breaks, or undefined. `path` is the way to
 * `message`, used as a stack (and copied only into a violation), so a valid
 * message costs no allocation.
 */
function checkBounds(bounds: MessageBounds, message: object, path: Path): Violation | undefined {
  const fields = message as Record<string, unknown>;
  for (const bound of bounds.fields) {
    const { field } = bound;
    let value: unknown;
    if (field.oneof) {
      const chosen = fields[field.oneof.localName] as { case?: string; value?: unknown };
      if (chosen.case !== field.localName) continue;
      value = chosen.value;
    } else {
      value = fields[field.localName];
    }
    if (value === undefined) continue;
    path.push(field);
    const found = checkField(bound, value, path);
    path.pop();
    if (found) return found;
  }
  return undefined;
}

function checkField(bound: FieldBound, value: unknown, path: Path): Violation | undefined {
  const { field } = bound;
  if (field.fieldKind === "list") {
    const items = value as unknown[];
    if (bound.maxItems !== undefined && items.length > bound.maxItems) {
      return violation(path, "repeated.max_items", `value must contain no more than ${String(bound.maxItems)} item(s)`);
    }
    for (let i = 0; i < items.length; i++) {
      path.push({ kind: "list_sub", index: i });
      const found = checkValue(bound, items[i], path);
      path.pop();
      if (found) return found;
    }
    return undefined;
  }
  if (field.fieldKind === "map") {
    const entries = Object.entries(value as Record<string, unknown>);
    if (bound.maxItems !== undefined && entries.length > bound.maxItems) {
      return violation(path, "map.max_pairs", `map must be at most ${String(bound.maxItems)} entries`);
    }
    for (const [key, item] of entries) {
      path.push({ kind: "map_sub", key });
      const found = key.includes("\0") ? violation(path, "string.no_nul", NO_NUL, true) : checkValue(bound, item, path);
      path.pop();
      if (found) return found;
    }
    return undefined;
  }
  return checkValue(bound, value, path);
}

const NO_NUL = "value must not contain NUL characters (U+0000)";

function checkValue(bound: FieldBound, value: unknown, path: Path): Violation | undefined {
  if (typeof value === "string") {
    // A code point is at most two UTF-16 units: only a string longer than
    // twice the limit is certainly too long here; protovalidate counts exactly.
    if (bound.maxChars !== undefined && value.length > 2 * bound.maxChars) {
      return violation(path, "string.max_len", `value length must be at most ${String(bound.maxChars)} characters`);
    }
    if (value.includes("\0")) return violation(path, "string.no_nul", NO_NUL);
    return undefined;
  }
  if (value instanceof Uint8Array) {
    if (bound.maxBytes !== undefined && value.byteLength > bound.maxBytes) {
      return violation(path, "bytes.max_len", `value length must be at most ${String(bound.maxBytes)} bytes`);
    }
    return undefined;
  }
  if (bound.message && typeof value === "object" && value !== null) {
    return checkBounds(bound.message, value, path);
  }
  return undefined;
}

function violation(path: Path, ruleId: string, message: string, forKey = false): Violation {
  return new Violation(message, ruleId, [...path], [], forKey);
}
