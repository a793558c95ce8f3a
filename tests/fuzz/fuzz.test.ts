// The fuzz suite: every RPC of every service and of the storefront API (see
// rpc-fuzzer.ts for what is generated and what counts as a failure), against
// the whole shop as real processes, seeded and bounded in time. In `npm
// test` it runs for FUZZ_DURATION_S (default 25 s); `npm run fuzz -- --seed N
// --duration 600` replays a seed or runs longer. Every process must still
// run and answer SERVING afterwards.
import { randomInt } from "node:crypto";
import { createClient } from "@connectrpc/connect";
import { createGrpcTransport } from "@connectrpc/connect-node";
import { CatalogService } from "@shop/gen/shop/catalog/v1/catalog_pb";
import { PaymentService } from "@shop/gen/shop/payment/v1/payment_pb";
import {
  Health,
  HealthCheckResponse_ServingStatus as ServingStatus,
} from "@shop/runtime/grpc-gen/grpc/health/v1/health_pb";
import { DEFAULT_READ_MAX_BYTES } from "@shop/runtime/rpc-handler";
import fc from "fast-check";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { discoverManifests } from "../../scripts/start/services.ts";
import { startProcessSystem, type ProcessSystem } from "../support/processes.ts";
import { bearer, type ServiceName } from "../support/system.ts";
import { callArb, describeCall, fuzzTargets, sendAndJudge, type Pool, type Target } from "./rpc-fuzzer.ts";

const seed = process.env.FUZZ_SEED ? Number(process.env.FUZZ_SEED) : randomInt(2 ** 31);
const durationMs = Number(process.env.FUZZ_DURATION_S ?? "25") * 1000;
const CONCURRENCY = 4;

let system: ProcessSystem;
let targets: Target[];
const pool: Pool = { strings: [], tokens: [] };

beforeAll(async () => {
  const manifests = await discoverManifests();
  targets = fuzzTargets(manifests);
  system = await startProcessSystem();
  const customer = await system.signUp("Fuzz Customer");
  const admin = await system.adminToken();
  const { products } = await system.client(CatalogService).listProducts({ pageSize: 5 });
  const { cardToken } = await system
    .client(PaymentService)
    .tokenizeCard(
      { cardNumber: "4242424242424242", expMonth: 12, expYear: 2099, cvc: "123", cardholderName: "Fuzz" },
      { headers: bearer(customer.token) },
    );
  pool.strings = [
    ...products.map((p) => p.id),
    "0190a000-0000-7000-8000-000000000001",
    customer.userId,
    customer.email,
    customer.password,
    "kitchen",
    "home",
    "kettle",
    "EUR",
    "ZZZ",
    "KIT-FUZZ-01",
    "fuzz-idempotency-key",
    "4242424242424242",
    "123",
    cardToken,
    "inventory-order-placed",
  ];
  pool.tokens = [customer.token, admin, "not.a.jwt"];
}, 180_000);

afterAll(async () => {
  await system.stop();
});

describe("fuzzing every RPC", () => {
  it(
    "answers every generated call with a typed, small, non-internal error or a success, and no process dies",
    async () => {
      console.log(
        `fuzz seed ${String(seed)}, ${String(durationMs / 1000)} s over ${String(targets.length)} methods (replay: npm run fuzz -- --seed ${String(seed)})`,
      );
      let calls = 0;
      let sendingMs = 0;
      const started = Date.now();
      const tally = new Map<string, number>();
      // A few calls at once: the services are separate processes, and a
      // hostile client does not wait for one answer before the next call.
      const batch = fc.array(callArb(targets, pool, DEFAULT_READ_MAX_BYTES), {
        minLength: CONCURRENCY,
        maxLength: CONCURRENCY,
      });
      const property = fc.asyncProperty(batch, async (batchCalls) => {
        calls += batchCalls.length;
        const sendStarted = performance.now();
        const failures = await Promise.all(
          batchCalls.map(async (call) => {
            const failure = await sendAndJudge(call, system.url(call.target.deployable as ServiceName), pool, tally);
            return failure && `${failure}\n  call: ${describeCall(call)}`;
          }),
        );
        sendingMs += performance.now() - sendStarted;
        const failed = failures.filter((f) => f !== undefined);
        if (failed.length > 0) throw new Error(failed.join("\n"));
        for (const call of batchCalls) {
          const deployable = call.target.deployable as ServiceName;
          if (!system.running(deployable)) throw new Error(`${deployable} exited after: ${describeCall(call)}`);
        }
      });
      await fc.assert(property, {
        seed,
        numRuns: Number.MAX_SAFE_INTEGER,
        plugins: [fc.interruptAfterTimeLimit(durationMs)],
        // A failing call is reported as it is: shrinking would replay calls
        // against a system whose state has moved on.
        endOnFailure: true,
      });
      const seconds = (Date.now() - started) / 1000;
      console.log(
        `fuzz: ${String(calls)} calls in ${seconds.toFixed(1)} s (${(sendingMs / 1000).toFixed(1)} s waiting for answers), no failure (seed ${String(seed)}); answers: ${[...tally].map(([code, n]) => `${code} ${String(n)}`).join(", ")}`,
      );
      expect(calls).toBeGreaterThan(0);

      for (const name of new Set(targets.map((t) => t.deployable as ServiceName))) {
        expect(system.running(name), `${name} is running`).toBe(true);
        const health = createClient(Health, createGrpcTransport({ baseUrl: system.url(name) }));
        expect((await health.check({})).status, `${name} health`).toBe(ServingStatus.SERVING);
      }
    },
    durationMs + 120_000,
  );
});
