// The fuzzer: every RPC of every deployable, found from the manifests and
// the generated descriptors (a new RPC or service is fuzzed without a test
// change), called with inputs fast-check generates from the request type's
// descriptor: mutated messages (huge, empty, NUL, unicode and lone-surrogate
// strings, extreme numbers, unknown enum values, long lists, unknown
// fields), random and truncated bytes, malformed JSON and oversize bodies,
// over Connect (binary and JSON), gRPC and, at the gateway, HTTP/1.1.
//
// What counts as a failure (judge): Internal, Unknown or DataLoss; an answer
// that is not well-formed in its protocol; no answer within the client's
// deadline; an answer larger than MAX_ANSWER_BYTES or an error message
// longer than MAX_ERROR_MESSAGE; an error message that shows SQL, a stack
// trace, a file path or a driver error.
import {
  create,
  toBinary,
  toJsonString,
  ScalarType,
  type DescField,
  type DescMessage,
  type DescMethod,
  type DescService,
} from "@bufbuild/protobuf";
import { Code } from "@connectrpc/connect";
import { Health } from "@shop/runtime/grpc-gen/grpc/health/v1/health_pb";
import type { ServiceManifest } from "@shop/runtime/manifest";
import fc from "fast-check";
import { NoAnswerError, rawCall, type RawAnswer, type WireFormat, type WireProtocol } from "../support/raw-rpc.ts";

export const MAX_ANSWER_BYTES = 2 * 1024 * 1024;
export const MAX_ERROR_MESSAGE = 4096;
/** A call the server has not answered after this long is a failure (it was given a 3 s deadline). */
export const CLIENT_TIMEOUT_MS = 20_000;
const SERVER_TIMEOUT_MS = 3_000;
/** Watch streams run until their deadline: a short one keeps them from eating the time budget. */
const STREAM_TIMEOUT_MS = 300;

export interface Target {
  deployable: string;
  service: DescService;
  method: DescMethod;
  /** The gateway also speaks HTTP/1.1 (browsers). */
  http1: boolean;
}

/** Every method of every service each deployable serves, plus its health service. */
export function fuzzTargets(manifests: readonly ServiceManifest[]): Target[] {
  const targets: Target[] = [];
  for (const m of manifests) {
    for (const service of [...m.serves, Health]) {
      for (const method of service.methods) {
        targets.push({ deployable: m.name, service, method, http1: m.name === "gateway" });
      }
    }
  }
  return targets;
}

/** Values that get a call past the first checks: real ids, tokens, well-formed strings. */
export interface Pool {
  strings: string[];
  tokens: string[];
}

/** One generated call, printed briefly when fast-check reports it. */
export interface FuzzCall {
  target: Target;
  protocol: WireProtocol;
  format: WireFormat;
  http1: boolean;
  kind: string;
  body: Uint8Array;
  raw: boolean;
  token: number;
}

export function describeCall(c: FuzzCall): string {
  const head = Buffer.from(c.body.subarray(0, 120));
  const shown = c.format === "json" ? JSON.stringify(head.toString("utf8")) : head.toString("hex");
  return `${c.target.deployable} /${c.target.service.typeName}/${c.target.method.name} via ${c.protocol}${c.http1 ? "/http1" : ""}+${c.format}, ${c.kind}, ${String(c.body.byteLength)} bytes, token #${String(c.token)}: ${shown}${c.body.byteLength > 120 ? "…" : ""}`;
}

// ---- inputs ----

const INT32_EDGES = [0, -1, 1, 100, 101, 2 ** 31 - 1, -(2 ** 31)];
const INT64_EDGES = [0n, -1n, 1n, 2n ** 62n, 2n ** 63n - 1n, -(2n ** 63n), 1_000_000_000_001n];
const UINT64_EDGES = [0n, 1n, 2n ** 64n - 1n, 2n ** 63n];

function stringArb(pool: Pool): fc.Arbitrary<string> {
  return fc.oneof(
    { weight: 4, arbitrary: fc.constantFrom(...pool.strings) },
    { weight: 2, arbitrary: fc.string({ maxLength: 40 }) },
    { weight: 2, arbitrary: fc.string({ unit: "grapheme", maxLength: 40 }) },
    // Any code unit, lone surrogates included.
    { weight: 1, arbitrary: fc.string({ unit: "binary", maxLength: 40 }) },
    {
      weight: 2,
      arbitrary: fc.tuple(fc.string({ maxLength: 10 }), fc.string({ maxLength: 10 })).map(([a, b]) => `${a}\u0000${b}`),
    },
    { weight: 1, arbitrary: fc.constantFrom("", " ", "x", "'; --", "%s%n", "\\", "\u202e", "\ud800", "😀".repeat(50)) },
    { weight: 1, arbitrary: fc.integer({ min: 100, max: 300_000 }).map((n) => "a".repeat(n)) },
  );
}

function scalarArb(field: DescField & { scalar: ScalarType }, pool: Pool): fc.Arbitrary<unknown> {
  switch (field.scalar) {
    case ScalarType.STRING:
      return stringArb(pool);
    case ScalarType.BYTES:
      return fc.uint8Array({ maxLength: 64 });
    case ScalarType.BOOL:
      return fc.boolean();
    case ScalarType.INT32:
    case ScalarType.SINT32:
    case ScalarType.SFIXED32:
      return fc.oneof(fc.constantFrom(...INT32_EDGES), fc.integer());
    case ScalarType.UINT32:
    case ScalarType.FIXED32:
      return fc.oneof(fc.constantFrom(0, 1, 2 ** 32 - 1), fc.nat());
    case ScalarType.INT64:
    case ScalarType.SINT64:
    case ScalarType.SFIXED64:
      return fc.oneof(fc.constantFrom(...INT64_EDGES), fc.bigInt({ min: -(2n ** 63n), max: 2n ** 63n - 1n }));
    case ScalarType.UINT64:
    case ScalarType.FIXED64:
      return fc.oneof(fc.constantFrom(...UINT64_EDGES), fc.bigInt({ min: 0n, max: 2n ** 64n - 1n }));
    case ScalarType.FLOAT:
    case ScalarType.DOUBLE:
      return fc.double();
  }
}

/** A value for one field, or undefined to leave it unset. */
function fieldArb(field: DescField, pool: Pool, depth: number): fc.Arbitrary<unknown> {
  const element = (): fc.Arbitrary<unknown> => {
    switch (field.fieldKind) {
      case "scalar":
        return scalarArb(field, pool);
      case "enum":
        return fc.integer({ min: -1, max: 12 });
      case "message":
        return messageArb(field.message, pool, depth - 1);
      case "list":
        return field.listKind === "scalar"
          ? scalarArb(field, pool)
          : field.listKind === "enum"
            ? fc.integer({ min: -1, max: 12 })
            : messageArb(field.message, pool, depth - 1);
      case "map":
        return field.mapKind === "message" ? messageArb(field.message, pool, depth - 1) : fc.constant(undefined);
    }
  };
  if (field.fieldKind === "message" && depth <= 0) return fc.constant(undefined);
  if (field.fieldKind === "list") {
    if (field.listKind === "message" && depth <= 0) return fc.constant([]);
    const item = element();
    return fc.oneof(
      { weight: 6, arbitrary: fc.array(item, { maxLength: 4 }) },
      // Past every max_items in the contracts, up to the 30,000 that once
      // exhausted a service's heap: one value repeated keeps generation cheap.
      {
        weight: 1,
        arbitrary: fc.tuple(item, fc.constantFrom(51, 101, 5_000, 30_000)).map(([v, n]) => {
          // Keep the whole list under ~2 MB however large the one item is.
          const count = Math.max(51, Math.min(n, Math.floor(2_000_000 / approximateSize(v))));
          return Array<unknown>(count).fill(v);
        }),
      },
    );
  }
  if (field.fieldKind === "map") return fc.constant(undefined);
  return fc.option(element(), { freq: 3, nil: undefined });
}

function approximateSize(value: unknown): number {
  const json = JSON.stringify(value, (_k, v: unknown) => (typeof v === "bigint" ? v.toString() : v)) as
    string | undefined;
  return Math.max(1, json?.length ?? 1);
}

function messageArb(desc: DescMessage, pool: Pool, depth: number): fc.Arbitrary<Record<string, unknown>> {
  if (desc.typeName === "google.protobuf.Timestamp") {
    return fc.record({ seconds: fc.constantFrom(...INT64_EDGES), nanos: fc.constantFrom(...INT32_EDGES) });
  }
  const shape: Record<string, fc.Arbitrary<unknown>> = {};
  for (const field of desc.fields) {
    if (field.oneof) continue;
    shape[field.localName] = fieldArb(field, pool, depth);
  }
  for (const oneof of desc.oneofs) {
    shape[oneof.localName] = fc.oneof(
      fc.constant(undefined),
      ...oneof.fields.map((f) =>
        fieldArb(f, pool, depth).map((value) => (value === undefined ? undefined : { case: f.localName, value })),
      ),
    );
  }
  return fc.record(shape).map((r) => Object.fromEntries(Object.entries(r).filter(([, v]) => v !== undefined)));
}

/** Bytes of an unknown field with a high field number, which a decoder must skip. */
const unknownFieldArb = fc
  .tuple(fc.integer({ min: 1000, max: 536_870_911 }), fc.uint8Array({ maxLength: 32 }))
  .map(([num, payload]) => {
    const tag = varint(BigInt(num) * 8n + 2n);
    return Buffer.concat([tag, varint(BigInt(payload.byteLength)), payload]);
  });

function varint(n: bigint): Buffer {
  const bytes: number[] = [];
  do {
    let b = Number(n & 0x7fn);
    n >>= 7n;
    if (n > 0n) b |= 0x80;
    bytes.push(b);
  } while (n > 0n);
  return Buffer.from(bytes);
}

interface Body {
  kind: string;
  format: WireFormat;
  body: Uint8Array;
  raw?: boolean;
}

function bodyArb(method: DescMethod, pool: Pool, readMaxBytes: number): fc.Arbitrary<Body> {
  const message = messageArb(method.input, pool, 3).map((init) => create(method.input, init as never));
  const utf8 = (s: string) => new TextEncoder().encode(s);
  const json = (m: ReturnType<typeof create>) => {
    try {
      return toJsonString(method.input, m as never);
    } catch {
      return "{}";
    }
  };
  return fc.oneof(
    {
      weight: 6,
      arbitrary: message.map((m) => ({
        kind: "message",
        format: "proto" as const,
        body: toBinary(method.input, m as never),
      })),
    },
    {
      weight: 2,
      arbitrary: fc.tuple(message, unknownFieldArb).map(([m, extra]) => ({
        kind: "message+unknown field",
        format: "proto" as const,
        body: Buffer.concat([toBinary(method.input, m as never), extra]),
      })),
    },
    { weight: 4, arbitrary: message.map((m) => ({ kind: "message", format: "json" as const, body: utf8(json(m)) })) },
    {
      weight: 2,
      arbitrary: fc
        .uint8Array({ maxLength: 300 })
        .map((body) => ({ kind: "random bytes", format: "proto" as const, body })),
    },
    {
      weight: 2,
      arbitrary: fc.tuple(message, fc.nat(), fc.nat(255)).map(([m, at, xor]) => {
        const bytes = Buffer.from(toBinary(method.input, m as never));
        if (bytes.length === 0)
          return { kind: "flipped bytes", format: "proto" as const, body: Buffer.from([0x0a, 0x05]) };
        const i = at % bytes.length;
        bytes[i] = (bytes[i] ?? 0) ^ (xor || 0xff);
        return { kind: "flipped bytes", format: "proto" as const, body: bytes.subarray(0, i + 1 + (at % 3)) };
      }),
    },
    {
      weight: 3,
      arbitrary: fc
        .tuple(message, fc.nat(), fc.constantFrom("truncate", "garbage", "wrong type", "nesting", "not an object"))
        .map(([m, at, how]) => {
          const text = json(m);
          const first = method.input.fields[0]?.jsonName ?? "x";
          const broken =
            how === "truncate"
              ? text.slice(0, at % Math.max(1, text.length))
              : how === "garbage"
                ? `${text.slice(0, at % (text.length + 1))}\u0000}{"${text.slice(at % (text.length + 1))}`
                : how === "wrong type"
                  ? JSON.stringify({ [first]: { nested: [1, "two", null] } })
                  : how === "nesting"
                    ? `{"${first}":${"[".repeat(50_000)}`
                    : JSON.stringify(["an", "array"]);
          return { kind: `malformed JSON (${how})`, format: "json" as const, body: utf8(broken) };
        }),
    },
    {
      weight: 1,
      arbitrary: fc.constantFrom("proto" as const, "json" as const).map((format) => ({
        kind: "oversize",
        format,
        body: Buffer.alloc(readMaxBytes + 1, format === "json" ? 0x20 : 0x00),
      })),
    },
    {
      weight: 1,
      arbitrary: fc
        .uint8Array({ minLength: 5, maxLength: 40 })
        .map((body) => ({ kind: "bad framing", format: "proto" as const, body, raw: true })),
    },
  );
}

export function callArb(targets: readonly Target[], pool: Pool, readMaxBytes: number): fc.Arbitrary<FuzzCall> {
  return fc.constantFrom(...targets).chain((target) =>
    fc
      .record({
        body: bodyArb(target.method, pool, readMaxBytes),
        protocol: fc.constantFrom<WireProtocol>("connect", "connect", "grpc", "grpc-web"),
        http1: target.http1 ? fc.boolean() : fc.constant(false),
        // 0: no token; others index pool.tokens (customer, admin, garbage).
        token: fc.nat(pool.tokens.length),
      })
      .map(({ body, protocol, http1, token }) => {
        const call: FuzzCall = {
          target,
          protocol,
          format: body.format,
          http1: http1 && protocol !== "grpc",
          kind: body.kind,
          body: body.body,
          raw: body.raw ?? false,
          token,
        };
        return Object.assign(call, { [fc.toStringMethod]: () => describeCall(call) });
      }),
  );
}

// ---- calling and judging ----

export async function send(call: FuzzCall, baseUrl: string, pool: Pool): Promise<RawAnswer> {
  const token = call.token === 0 ? undefined : pool.tokens[call.token - 1];
  return rawCall({
    baseUrl,
    path: `/${call.target.service.typeName}/${call.target.method.name}`,
    protocol: call.protocol,
    format: call.format,
    streaming: call.target.method.methodKind === "server_streaming",
    body: call.body,
    raw: call.raw,
    http1: call.http1,
    headers: token ? { authorization: `Bearer ${token}` } : {},
    serverTimeoutMs: call.target.method.methodKind === "server_streaming" ? STREAM_TIMEOUT_MS : SERVER_TIMEOUT_MS,
    clientTimeoutMs: CLIENT_TIMEOUT_MS,
  });
}

/** What gives away internals: SQL, driver and runtime errors, stack frames, paths. */
const LEAKS =
  /\b(select|insert into|update \w+ set|delete from)\b|postgres|drizzle|\brelation "|duplicate key|violates|syntax error at|ECONN|TypeError|RangeError|ReferenceError|\bat \S+ \(|node_modules|\/work\/|\/home\/|\.ts:\d+|\.js:\d+/i;

const FAILING_CODES = new Set([Code.Internal, Code.Unknown, Code.DataLoss]);

/** Why the answer is a failure, or undefined when it is acceptable. */
export function judge(answer: RawAnswer): string | undefined {
  if (answer.malformed) return `malformed answer: ${answer.malformed}`;
  if (answer.code !== undefined && FAILING_CODES.has(answer.code)) {
    return `answered ${Code[answer.code]}: ${answer.message}`;
  }
  if (answer.bytes > MAX_ANSWER_BYTES) return `answer of ${String(answer.bytes)} bytes`;
  if (Buffer.byteLength(answer.message) > MAX_ERROR_MESSAGE) {
    return `error message of ${String(Buffer.byteLength(answer.message))} bytes`;
  }
  if (LEAKS.test(answer.message)) return `error message gives internals away: ${answer.message.slice(0, 300)}`;
  return undefined;
}

/** Sends `call` and judges the answer: the failure, or undefined; `tally` counts answers by code. */
export async function sendAndJudge(
  call: FuzzCall,
  baseUrl: string,
  pool: Pool,
  tally?: Map<string, number>,
): Promise<string | undefined> {
  try {
    const answer = await send(call, baseUrl, pool);
    const name = answer.code === undefined ? "OK" : Code[answer.code];
    tally?.set(name, (tally.get(name) ?? 0) + 1);
    return judge(answer);
  } catch (err) {
    if (err instanceof NoAnswerError) return err.message;
    return `no answer: ${String(err)}`;
  }
}
