// Operators see and replay parked events through shop.ops.v1.DeadLetterService
// (admin only) and its command line, `npm run dead-letters`.
import { execFile } from "node:child_process";
import { promisify } from "node:util";
import { randomUUID } from "node:crypto";
import { Code, ConnectError } from "@connectrpc/connect";
import { headers as natsHeaders } from "@nats-io/nats-core";
import { DeadLetterService } from "@shop/gen/shop/ops/v1/dead_letters_pb";
import { OrderPlacedSchema } from "@shop/gen/shop/order/v1/events_pb";
import { EventBus } from "@shop/runtime/events/bus";
import { EVENT_ID_HEADER, EVENT_TYPE_HEADER } from "@shop/runtime/events/headers";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { ADMIN_EMAIL, ADMIN_PASSWORD, bearer, eventually, startSystem, type TestSystem } from "../support/system.ts";

const run = promisify(execFile);
let system: TestSystem;
let bus: EventBus;
let poisonId: string;

beforeAll(async () => {
  system = await startSystem(["identity", "inventory"]);
  bus = await EventBus.connect({ naming: system.naming });
  // Bytes that are not an OrderPlaced: inventory parks it at once (retrying cannot help).
  poisonId = randomUUID();
  const h = natsHeaders();
  h.set(EVENT_ID_HEADER, poisonId);
  h.set(EVENT_TYPE_HEADER, OrderPlacedSchema.typeName);
  await bus.js.publish(system.naming.subject(OrderPlacedSchema), new Uint8Array([0xff, 0xff, 0xff]), {
    msgID: poisonId,
    headers: h,
  });
});
afterAll(async () => {
  await bus?.close();
  await system?.stop();
});

const deadLetters = () => system.client(DeadLetterService);

describe("DeadLetterService", () => {
  it("lists a parked event to admins only", async () => {
    const headers = bearer(await system.adminToken());
    const parked = await eventually("the poison event to be parked", async () =>
      (await deadLetters().listDeadLetters({}, { headers })).deadLetters.find((d) => d.eventId === poisonId),
    );
    expect(parked).toMatchObject({ consumer: "inventory-order-placed", eventType: "shop.order.v1.OrderPlaced" });
    expect(parked.error).toMatch(/cannot decode/);

    const customer = await system.signUp();
    const denied = await deadLetters()
      .listDeadLetters({}, { headers: bearer(customer.token) })
      .catch((e: unknown) => ConnectError.from(e));
    expect(Code[(denied as ConnectError).code]).toBe("PermissionDenied");
    const anonymous = await deadLetters()
      .listDeadLetters({})
      .catch((e: unknown) => ConnectError.from(e));
    expect(Code[(anonymous as ConnectError).code]).toBe("Unauthenticated");
  });

  it("replays a parked event and answers NotFound for an unknown one", async () => {
    const headers = bearer(await system.adminToken());
    const parked = await eventually("the poison event to be parked", async () =>
      (await deadLetters().listDeadLetters({}, { headers })).deadLetters.find((d) => d.eventId === poisonId),
    );
    const { deadLetter } = await deadLetters().replayDeadLetter({ deadLetterId: parked.id }, { headers });
    expect(deadLetter?.replayedAt).toBeDefined();
    const missing = await deadLetters()
      .replayDeadLetter({ deadLetterId: randomUUID() }, { headers })
      .catch((e: unknown) => ConnectError.from(e));
    expect(Code[(missing as ConnectError).code]).toBe("NotFound");
  });
});

describe("npm run dead-letters", () => {
  const cli = (...args: string[]) =>
    run(
      process.execPath,
      ["--experimental-transform-types", "--disable-warning=ExperimentalWarning", "scripts/dead-letters.ts", ...args],
      {
        env: {
          ...process.env,
          IDENTITY_ADDR: system.url("identity"),
          INVENTORY_ADDR: system.url("inventory"),
          ADMIN_EMAIL,
          ADMIN_PASSWORD,
        },
      },
    );

  it("lists and replays through the RPC", async () => {
    const listed = await eventually("the CLI to list the parked event", async () => {
      const { stdout } = await cli("inventory", "list");
      return stdout.includes(poisonId) ? stdout : undefined;
    });
    const line = listed
      .trim()
      .split("\n")
      .find((l) => l.includes(poisonId))!;
    const { id } = JSON.parse(line) as { id: string };
    const { stdout } = await cli("inventory", "replay", id);
    expect(stdout).toContain(`replayed ${id}`);
  });

  it("explains its usage", async () => {
    const err = await cli("catalog", "list").catch((e: unknown) => e);
    expect((err as { code: number }).code).toBe(2);
    expect((err as { stderr: string }).stderr).toMatch(/services with dead letters: .*inventory/);
  });
});
