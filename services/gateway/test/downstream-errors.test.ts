// What a browser may learn from a failed call: toCallerError and
// callerErrorInterceptor on their own, fed the ConnectErrors a downstream call
// can fail with (errors the real services rarely produce on purpose, such as
// Internal carrying a connection string). Client errors pass through with
// their message and field violations only; everything else becomes a generic
// Internal (or Unavailable), with the detail in the gateway's log alone.
import { create, toBinary } from "@bufbuild/protobuf";
import { StringValueSchema } from "@bufbuild/protobuf/wkt";
import { ViolationsSchema, type Violations } from "@bufbuild/protovalidate/gen/buf/validate/validate_pb.js";
import { Code, ConnectError, createClient, createRouterTransport } from "@connectrpc/connect";
import { errorToJson } from "@connectrpc/connect/protocol-connect";
import { StorefrontService } from "@shop/gen/shop/storefront/v1/storefront_pb";
import { createLogger } from "@shop/runtime/log";
import { describe, expect, it } from "vitest";
import { LogSink } from "../../../tests/observability/log-sink.ts";
import {
  GENERIC_INTERNAL_MESSAGE,
  GENERIC_UNAVAILABLE_MESSAGE,
  callerErrorInterceptor,
  toCallerError,
} from "../src/downstream-errors.ts";

const SECRET = "password=hunter2 host=10.1.2.3";
const PROCEDURE = "/shop.storefront.v1.StorefrontService/GetOrder";

function gatewayLogger() {
  const sink = new LogSink();
  return { sink, logger: createLogger("gateway", { level: "info", destination: sink }) };
}

const passwordViolation = (): Violations =>
  create(ViolationsSchema, {
    violations: [
      {
        field: { elements: [{ fieldName: "password", fieldNumber: 2 }] },
        ruleId: "password.policy",
        message: "must not be one character repeated",
      },
    ],
  });

/** Everything of an error a caller can see: the Connect error body (details decoded) and the headers. */
function visible(err: ConnectError): string {
  const body = errorToJson(err, undefined) as { details?: { value: string }[] };
  const details = (body.details ?? []).map((d) => Buffer.from(d.value, "base64").toString("latin1"));
  return [JSON.stringify(body), ...details, JSON.stringify([...err.metadata])].join("\n");
}

describe("toCallerError: server faults", () => {
  it.each([
    ["Internal", new ConnectError(`query failed: ${SECRET}`, Code.Internal, { "x-debug": SECRET })],
    ["DataLoss", new ConnectError(`page checksum mismatch at ${SECRET}`, Code.DataLoss)],
    ["Unknown", new ConnectError(`unexpected: ${SECRET}`, Code.Unknown)],
    ["Unimplemented", new ConnectError(`no such method on ${SECRET}`, Code.Unimplemented)],
    ["a thrown Error", new Error(`ECONNREFUSED ${SECRET}`)],
    ["a thrown string", `boom ${SECRET}`],
  ])("%s becomes a generic Internal, without the detail, which goes to the log", (_name, thrown) => {
    const { sink, logger } = gatewayLogger();
    const err = toCallerError(thrown, logger, PROCEDURE);
    expect(err.code).toBe(Code.Internal);
    expect(err.rawMessage).toBe(GENERIC_INTERNAL_MESSAGE);
    expect(err.details).toEqual([]);
    expect([...err.metadata]).toEqual([]);
    for (const leak of ["hunter2", "10.1.2.3", "ECONNREFUSED", " at "]) expect(visible(err)).not.toContain(leak);

    const [line] = sink.records();
    expect(line).toMatchObject({ level: "error", procedure: PROCEDURE, msg: "downstream call failed" });
    expect(JSON.stringify(line.err)).toContain("10.1.2.3");
  });

  it("field violations on a server fault are dropped with the rest", () => {
    const thrown = new ConnectError(`boom ${SECRET}`, Code.Internal, undefined, [
      { desc: ViolationsSchema, value: passwordViolation() },
    ]);
    const err = toCallerError(thrown, gatewayLogger().logger, PROCEDURE);
    expect(err.findDetails(ViolationsSchema)).toEqual([]);
  });

  it("Unavailable stays Unavailable, with a generic message and the address only in the log", () => {
    const { sink, logger } = gatewayLogger();
    const err = toCallerError(
      new ConnectError("connect ECONNREFUSED 10.1.2.3:7006", Code.Unavailable),
      logger,
      PROCEDURE,
    );
    expect(err.code).toBe(Code.Unavailable);
    expect(err.rawMessage).toBe(GENERIC_UNAVAILABLE_MESSAGE);
    expect(visible(err)).not.toContain("10.1.2.3");
    expect(sink.records()[0]).toMatchObject({
      level: "warn",
      procedure: PROCEDURE,
      code: "Unavailable",
      err: "connect ECONNREFUSED 10.1.2.3:7006",
    });
  });

  it.each([
    [Code.Canceled, "the call was cancelled"],
    [Code.DeadlineExceeded, "the call took too long"],
  ])("%s keeps its code with a message of its own", (code, message) => {
    const err = toCallerError(new ConnectError(`stream reset by ${SECRET}`, code), gatewayLogger().logger, PROCEDURE);
    expect(err.code).toBe(code);
    expect(err.rawMessage).toBe(message);
  });
});

describe("toCallerError: client errors", () => {
  it.each([
    Code.InvalidArgument,
    Code.NotFound,
    Code.AlreadyExists,
    Code.PermissionDenied,
    Code.Unauthenticated,
    Code.FailedPrecondition,
    Code.ResourceExhausted,
    Code.OutOfRange,
    Code.Aborted,
  ])("code %s passes through with its message, but not its metadata, and is not logged", (code) => {
    const { sink, logger } = gatewayLogger();
    const err = toCallerError(
      new ConnectError("order 0197 is already confirmed", code, { "x-internal-host": "10.1.2.3" }),
      logger,
      PROCEDURE,
    );
    expect(err.code).toBe(code);
    expect(err.rawMessage).toBe("order 0197 is already confirmed");
    expect([...err.metadata]).toEqual([]);
    expect(sink.lines).toEqual([]);
  });

  it("keeps Retry-After, which says how long a locked sign-in waits, and only that", () => {
    const { logger } = gatewayLogger();
    const err = toCallerError(
      new ConnectError("too many failed sign-in attempts; try again in 60 s", Code.ResourceExhausted, {
        "retry-after": "60",
        "x-internal-host": "10.1.2.3",
      }),
      logger,
      PROCEDURE,
    );
    expect([...err.metadata]).toEqual([["retry-after", "60"]]);
  });

  it("keeps field violations (as sent, or as received off the wire) and drops every other detail", () => {
    const violations = passwordViolation();
    const other = create(StringValueSchema, { value: SECRET });
    for (const details of [
      [
        { desc: ViolationsSchema, value: violations },
        { desc: StringValueSchema, value: other },
      ],
      [
        { type: ViolationsSchema.typeName, value: toBinary(ViolationsSchema, violations) },
        { type: StringValueSchema.typeName, value: toBinary(StringValueSchema, other) },
      ],
    ]) {
      const thrown = new ConnectError(
        "password: must not be one character repeated [password.policy]",
        Code.InvalidArgument,
      );
      thrown.details.push(...details);
      const err = toCallerError(thrown, gatewayLogger().logger, PROCEDURE);
      expect(err.code).toBe(Code.InvalidArgument);
      expect(err.rawMessage).toBe("password: must not be one character repeated [password.policy]");
      expect(err.details).toHaveLength(1);
      const [passed] = err.findDetails(ViolationsSchema);
      expect(passed.violations[0]).toMatchObject({
        ruleId: "password.policy",
        message: "must not be one character repeated",
      });
      expect(passed.violations[0].field?.elements[0].fieldName).toBe("password");
      expect(visible(err)).not.toContain("hunter2");
    }
  });
});

describe("callerErrorInterceptor", () => {
  // Plain handlers standing in for the storefront's, behind a real router
  // with the interceptor as the gateway's service parts install it.
  const client = createClient(
    StorefrontService,
    createRouterTransport(
      ({ service }) =>
        service(StorefrontService, {
          getOrder() {
            throw new ConnectError(`query failed: ${SECRET}`, Code.Internal);
          },
          listOrders() {
            throw new ConnectError("order not found", Code.NotFound);
          },
          async *watchOrder() {
            yield { order: { id: "0197" } };
            throw new ConnectError(`relay broke: ${SECRET}`, Code.DataLoss);
          },
        }),
      { router: { interceptors: [callerErrorInterceptor(gatewayLogger().logger)] } },
    ),
  );

  it("translates a unary method's rejection", async () => {
    await expect(client.getOrder({ orderId: "0197" })).rejects.toMatchObject({
      code: Code.Internal,
      rawMessage: GENERIC_INTERNAL_MESSAGE,
    });
    await expect(client.listOrders({})).rejects.toMatchObject({ code: Code.NotFound, rawMessage: "order not found" });
  });

  it("translates a stream's failure after the messages it relayed", async () => {
    const received: unknown[] = [];
    const err = await (async () => {
      for await (const message of client.watchOrder({ orderId: "0197" })) received.push(message.order?.id);
    })().then(
      () => undefined,
      (e: unknown) => ConnectError.from(e),
    );
    expect(received).toEqual(["0197"]);
    expect(err).toMatchObject({ code: Code.Internal, rawMessage: GENERIC_INTERNAL_MESSAGE });
    expect(visible(err!)).not.toContain("hunter2");
  });
});

describe("toCallerError: size", () => {
  it("forwards at most 1 KiB of message and 10 violations, whatever a downstream service sent", () => {
    const { logger } = gatewayLogger();
    const many = create(ViolationsSchema, {
      violations: Array.from({ length: 500 }, (_, i) => ({
        field: {
          elements: [
            { fieldName: "lines", fieldNumber: 2 },
            { fieldName: "product_id", fieldNumber: 1 },
          ],
        },
        ruleId: "string.uuid",
        message: `line ${String(i)}: value must be a valid UUID`,
      })),
    });
    const downstream = new ConnectError("lines: bad ".repeat(1000), Code.InvalidArgument, undefined, [
      { desc: ViolationsSchema, value: many },
    ]);
    const err = toCallerError(downstream, logger, PROCEDURE);
    expect(err.code).toBe(Code.InvalidArgument);
    expect(err.rawMessage.length).toBeLessThanOrEqual(1025);
    expect(err.rawMessage.startsWith("lines: bad lines: bad")).toBe(true);
    expect(err.findDetails(ViolationsSchema)[0]?.violations).toHaveLength(10);
    // The whole Connect error body the browser gets.
    expect(JSON.stringify(errorToJson(err, undefined)).length).toBeLessThan(6 * 1024);
  });
});
