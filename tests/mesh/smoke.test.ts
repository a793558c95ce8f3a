// Manifest smoke test: start each service the way its Deployment (mesh/base)
// does — the same command, working directory and environment — and check its
// health the way the kubelet's gRPC probe does (grpc.health.v1.Health/Check
// over plaintext HTTP/2 on the probe's port). Then stop it the way Kubernetes
// does (SIGTERM) and expect a clean exit within its grace period.
//
// Mapped to this machine, and nothing else:
//   - `node` is the Node 24 running the tests (the image's node is node:24);
//   - /app (workingDir) is the repository root;
//   - ports: every service gets a free local port (the declared ports may be
//     taken by other tests or `npm start`); the probe port follows PORT, and
//     the static checks already prove PORT, containerPort and probe ports are
//     the manifest's port;
//   - NATS_URL -> this machine's NATS; DATABASE_URL -> a fresh database on this
//     machine's Postgres; <DEP>_ADDR -> the dependency's local port;
//     OTEL_EXPORTER_OTLP_ENDPOINT unset (no collector here); events get a
//     private subject/stream prefix so the run touches no one else's streams.
import { type ChildProcess, spawn } from "node:child_process";
import { randomBytes } from "node:crypto";
import { existsSync } from "node:fs";
import { createRequire } from "node:module";
import { join } from "node:path";
import * as grpc from "@grpc/grpc-js";
import * as protoLoader from "@grpc/proto-loader";
import postgres from "postgres";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { freePort } from "../../scripts/start/ports.ts";
import { readReleasePlan, tracksOf } from "../../mesh/generator/releases.ts";
import { addressVariable } from "../../services/runtime/src/manifest.ts";
import { type Any, deploymentsOf, manifests, named, render, repoRoot } from "./fixtures.ts";

const ADMIN_DATABASE_URL = process.env.TEST_DATABASE_URL ?? "postgres://postgres@127.0.0.1:5432/postgres";
const NATS_URL = process.env.NATS_URL ?? "nats://127.0.0.1:4222";
const runId = `mesh_smoke_${randomBytes(4).toString("hex")}`;

const base = render("mesh/base") as Any[];
const devSecrets = render("mesh/base/dev") as Any[];
const sharedConfig = named(base, "ConfigMap", "shop-config").data as Record<string, string>;

// Every deployable with a manifest must have an entry point its Deployment can run.
const present = manifests;

function databaseUrl(name: string): string {
  const url = new URL(ADMIN_DATABASE_URL);
  url.pathname = `/${runId}_${name}`;
  return url.toString();
}

/** The container's environment, with what points at cluster infrastructure pointed at this machine. */
function localEnv(container: Any, ports: Map<string, number>, name: string): Record<string, string> {
  const env: Record<string, string> = { PATH: process.env.PATH ?? "", NODE_ENV: "production" };
  for (const e of container.env as Any[]) {
    let value: string | undefined = e.value;
    const cm = e.valueFrom?.configMapKeyRef;
    const secret = e.valueFrom?.secretKeyRef;
    if (cm) value = sharedConfig[cm.key];
    if (secret) value = named(devSecrets, "Secret", secret.name)?.stringData?.[secret.key];
    if (value === undefined && !cm?.optional) throw new Error(`${name}: no value for ${e.name}`);
    if (value !== undefined) env[e.name] = value;
  }
  env.PORT = String(ports.get(name));
  env.NATS_URL = NATS_URL;
  delete env.OTEL_EXPORTER_OTLP_ENDPOINT;
  // The Deployment's fixed metrics port could be taken on this machine (npm start).
  env.METRICS_PORT = "0";
  if (env.DATABASE_URL) env.DATABASE_URL = databaseUrl(name);
  for (const dep of manifests) {
    const variable = addressVariable(dep.name);
    if (env[variable]) env[variable] = `http://127.0.0.1:${ports.get(dep.name)}`;
  }
  env.EVENTS_SUBJECT_PREFIX = runId;
  env.EVENTS_STREAM_PREFIX = runId;
  return env;
}

const healthProto = join(
  createRequire(import.meta.url).resolve("grpc-health-check/package.json"),
  "..",
  "proto",
  "health",
  "v1",
  "health.proto",
);

/** One grpc.health.v1.Health/Check with service "" (what `grpc: { port }` probes send). */
function probe(port: number): Promise<string> {
  const def = protoLoader.loadSync(healthProto, { keepCase: true, enums: String });
  const Health = (grpc.loadPackageDefinition(def) as Any).grpc.health.v1.Health;
  const client = new Health(`127.0.0.1:${port}`, grpc.credentials.createInsecure());
  return new Promise((resolve) => {
    client.Check({ service: "" }, { deadline: Date.now() + 2000 }, (err: Error | null, res: Any) => {
      client.close();
      resolve(err ? `error: ${err.message}` : res.status);
    });
  });
}

async function waitServing(port: number, child: Running, timeoutMs: number): Promise<string> {
  const until = Date.now() + timeoutMs;
  let last = "";
  while (Date.now() < until) {
    if (child.exit) return `exited (${child.exit.code ?? child.exit.signal}) before serving`;
    last = await probe(port);
    if (last === "SERVING") return last;
    await new Promise((r) => setTimeout(r, 250));
  }
  return last;
}

interface Running {
  process: ChildProcess;
  output: string[];
  exit?: { code: number | null; signal: NodeJS.Signals | null };
  exited: Promise<void>;
}

/** Starts a service with its Deployment's command and (mapped) environment. */
function start(name: string, ports: Map<string, number>): Running {
  // The track that consumes events (v1, or a blue-green's live colour).
  const track = tracksOf(name, readReleasePlan())[0].name;
  const deployment = deploymentsOf(base, name).find((d) => d.spec.template.metadata.labels.version === track);
  const container = deployment.spec.template.spec.containers[0];
  const [command, ...args] = container.command as string[];
  expect(command).toBe("node");
  expect(container.workingDir).toBe("/app");
  const child = spawn(process.execPath, args, {
    cwd: repoRoot,
    env: localEnv(container, ports, name),
    stdio: ["ignore", "pipe", "pipe"],
  });
  const r: Running = { process: child, output: [], exited: Promise.resolve() };
  const keep = (chunk: Buffer) => {
    r.output.push(chunk.toString());
    if (r.output.length > 200) r.output.shift();
  };
  child.stdout?.on("data", keep);
  child.stderr?.on("data", keep);
  r.exited = new Promise((resolve) => child.once("exit", (code, signal) => ((r.exit = { code, signal }), resolve())));
  return r;
}

// One service at a time: on a busy two-core machine, starting all at once
// measures the machine, not the manifests.
describe("manifest smoke test: each service starts with its Deployment's command and environment", () => {
  const ports = new Map<string, number>();
  const running = new Map<string, Running>();

  beforeAll(async () => {
    for (const m of manifests) ports.set(m.name, await freePort());
  });

  afterAll(async () => {
    for (const r of running.values()) if (!r.exit) r.process.kill("SIGKILL");
    await Promise.all([...running.values()].map((r) => r.exited));
    const dbs = present.filter((m) => m.database);
    if (dbs.length > 0) {
      const admin = postgres(ADMIN_DATABASE_URL, { max: 1, onnotice: () => {} });
      try {
        for (const m of dbs) await admin`drop database if exists ${admin(`${runId}_${m.name}`)} with (force)`;
      } finally {
        await admin.end({ timeout: 5 });
      }
    }
  });

  it("finds an entry point for every deployable", () => {
    expect(
      manifests.filter((m) => !existsSync(join(repoRoot, "services", m.name, "src", "main.ts"))).map((m) => m.name),
    ).toEqual([]);
  });

  for (const m of present) {
    it(`${m.name}: answers SERVING to the gRPC health probe, then exits 0 on SIGTERM`, async () => {
      const r = start(m.name, ports);
      running.set(m.name, r);
      const deployment = deploymentsOf(base, m.name)[0];
      const startup = deployment.spec.template.spec.containers[0].startupProbe;
      const status = await waitServing(ports.get(m.name)!, r, startup.periodSeconds * startup.failureThreshold * 1000);
      expect(status, `${m.name} output:\n${r.output.join("")}`).toBe("SERVING");
      r.process.kill("SIGTERM");
      const grace = deployment.spec.template.spec.terminationGracePeriodSeconds * 1000;
      await Promise.race([r.exited, new Promise((resolve) => setTimeout(resolve, grace))]);
      expect(r.exit, `${m.name} did not stop within ${grace} ms`).toBeDefined();
      expect(r.exit!.code, `${m.name} output:\n${r.output.join("")}`).toBe(0);
    }, 180_000);
  }
});
