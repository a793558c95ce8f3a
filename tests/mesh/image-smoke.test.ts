// Image smoke test: for every deployable, its image built from the Dockerfile
// alone (image/build.ts: only what the stages COPY from the build context,
// minus .dockerignore, then the build's own RUN steps, the same esbuild build
// the image runs), then started the way its Deployment (mesh/base) runs it:
// the same command, working directory and environment, as uid 1000, with the
// image's files unwritable (readOnlyRootFilesystem) and its volumes mounted
// (image/container.ts). It must answer the kubelet's gRPC probe
// (grpc.health.v1.Health/Check over plaintext HTTP/2) with SERVING, stop on
// SIGTERM with exit 0 within its grace period, and leave its image untouched.
// So a service that imports, reads or writes a file outside what its image
// holds fails here, not in the cluster; the last tests prove it with variants
// of catalog that do each.
//
// Mapped to this machine, and nothing else:
//   - ports: every service gets a free local port (the declared ports may be
//     taken by other tests or `npm start`); the probe port follows PORT, and
//     the static checks already prove PORT, containerPort and probe ports are
//     the manifest's port;
//   - NATS_URL -> this machine's NATS; DATABASE_URL -> a fresh database on this
//     machine's Postgres; <DEP>_ADDR -> the dependency's local port;
//     OTEL_EXPORTER_OTLP_ENDPOINT unset (no collector here); events get a
//     private subject/stream prefix so the run touches no one else's streams.
import { randomBytes } from "node:crypto";
import { chmodSync, existsSync, mkdtempSync, readFileSync, rmSync } from "node:fs";
import { availableParallelism, tmpdir } from "node:os";
import { createRequire } from "node:module";
import { join } from "node:path";
import * as grpc from "@grpc/grpc-js";
import * as protoLoader from "@grpc/proto-loader";
import { dropDatabase } from "@shop/runtime/db/database";
import { EventBus, EventNaming } from "@shop/runtime/events/index";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { freePorts } from "../../scripts/start/ports.ts";
import { readReleasePlan, tracksOf } from "../../mesh/generator/releases.ts";
import { addressVariable } from "../../services/runtime/src/manifest.ts";
import { type Any, deploymentsOf, manifests, named, ofKind, render, repoRoot } from "./fixtures.ts";
import { buildImages, type BuildRequest, type Image } from "./image/build.ts";
import { BuildContext } from "./image/context.ts";
import { processUid, startContainer, type RunningContainer } from "./image/container.ts";
import { readDockerfile } from "./image/dockerfile.ts";

const ADMIN_DATABASE_URL = process.env.TEST_DATABASE_URL ?? "postgres://postgres@127.0.0.1:5432/postgres";
const NATS_URL = process.env.NATS_URL ?? "nats://127.0.0.1:4222";
const runId = `mesh_image_${randomBytes(4).toString("hex")}`;
const naming = new EventNaming({ subjectPrefix: runId, streamPrefix: runId });

const base = render("mesh/base") as Any[];
const devSecrets = render("mesh/base/dev") as Any[];
const sharedConfig = named(base, "ConfigMap", "shop-config").data as Record<string, string>;
const configMaps = Object.fromEntries(ofKind(base, "ConfigMap").map((c) => [c.metadata.name, c.data]));

// Running as the image's user takes root (the dev and CI machines run as root).
const asRoot = process.getuid?.() === 0;

/**
 * Variants of catalog's entry point that each do what an image cannot: the
 * check must fail them, saying why. The first is catalog itself plus one
 * import from another service (fine under `npm start`, where the whole
 * repository is there); the other two do only the offending thing at start
 * (the rest of a service would not change the outcome, only the build time).
 */
const catalogMain = readFileSync(join(repoRoot, "services/catalog/src/main.ts"), "utf8");
const variants = {
  imports: `import { loadOrderSettings } from "../../order/src/settings.ts";\nloadOrderSettings(process.env);\n${catalogMain}`,
  reads: `import { readFileSync } from "node:fs";\nreadFileSync(new URL("../../../mesh/releases.json", import.meta.url));\nsetInterval(() => {}, 1000);\n`,
  writes: `import { writeFileSync } from "node:fs";\nwriteFileSync(new URL("./started", import.meta.url), "");\nsetInterval(() => {}, 1000);\n`,
};
const variantName = (kind: keyof typeof variants) => `catalog that ${kind} outside its image`;

function databaseUrl(name: string): string {
  const url = new URL(ADMIN_DATABASE_URL);
  url.pathname = `/${runId}_${name}`;
  return url.toString();
}

/** The container's environment, with what points at cluster infrastructure pointed at this machine. */
function localEnv(container: Any, ports: Map<string, number>, name: string, database: string): Record<string, string> {
  const env: Record<string, string> = {};
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
  if (env.DATABASE_URL) env.DATABASE_URL = databaseUrl(database);
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

describe.skipIf(!asRoot)("image smoke test: each service's image runs as its Deployment runs it", () => {
  const ports = new Map<string, number>();
  const running: RunningContainer[] = [];
  const databases = new Set<string>();
  let scratch: string;
  let images: Map<string, Promise<Image>>;
  const built = (name: string) => images.get(name) ?? Promise.reject(new Error(`no build named ${name}`));

  beforeAll(async () => {
    scratch = mkdtempSync(join(tmpdir(), "image-check-"));
    // The build's RUN user and the container's user work inside.
    chmodSync(scratch, 0o755);
    const free = await freePorts(manifests.length); // distinct, unlike ports picked one by one
    manifests.forEach((m, i) => ports.set(m.name, free[i]));
    const context = new BuildContext(repoRoot);
    const requests: BuildRequest[] = manifests.map((m) => ({
      name: m.name,
      target: "runtime",
      buildArgs: { SERVICE: m.name },
      context,
    }));
    for (const kind of Object.keys(variants) as (keyof typeof variants)[]) {
      requests.push({
        name: variantName(kind),
        target: "runtime",
        buildArgs: { SERVICE: "catalog" },
        context: new BuildContext(repoRoot, { "services/catalog/src/main.ts": variants[kind] }),
      });
    }
    images = buildImages(readDockerfile(join(repoRoot, "Dockerfile")), requests, {
      scratch,
      installedCheckout: repoRoot,
      parallelism: availableParallelism(),
    });
  });

  afterAll(async () => {
    for (const r of running) if (!r.exit) r.process.kill("SIGKILL");
    await Promise.all(running.map((r) => r.exited));
    for (const name of databases) await dropDatabase(databaseUrl(name)).catch(() => {});
    const bus = await EventBus.connect({ servers: NATS_URL, naming });
    for await (const stream of bus.jsm.streams.names()) {
      if (stream.startsWith(`${naming.streamPrefix}_`)) await bus.jsm.streams.delete(stream).catch(() => {});
    }
    await bus.close();
    if (scratch) rmSync(scratch, { recursive: true, force: true });
  });

  /**
   * The check: the image started as the service's Deployment (its consuming
   * track: v1, or a blue-green's live colour) starts it, up to SERVING, then
   * SIGTERM. Throws, saying what went wrong, where a cluster would fail.
   */
  async function checkImage(image: Image, service: string, database: string): Promise<void> {
    const track = tracksOf(service, readReleasePlan())[0].name;
    const deployment = deploymentsOf(base, service).find((d) => d.spec.template.metadata.labels.version === track);
    const pod = deployment.spec.template.spec;
    const container = pod.containers[0];
    databases.add(database);
    const r = await startContainer({
      image,
      pod,
      container,
      env: localEnv(container, ports, service, database),
      configMaps,
      scratch,
    });
    running.push(r);
    const output = () => `\n${service} output:\n${r.output()}`;

    const startup = container.startupProbe;
    const until = Date.now() + startup.periodSeconds * startup.failureThreshold * 1000;
    let status = "";
    while (Date.now() < until) {
      if (r.exit)
        throw new Error(`${service} exited (${r.exit.code ?? r.exit.signal}) before answering SERVING${output()}`);
      status = await probe(ports.get(service)!);
      if (status === "SERVING") break;
      await new Promise((resolve) => setTimeout(resolve, 250));
    }
    if (status !== "SERVING") throw new Error(`${service} never answered SERVING (last: ${status})${output()}`);
    const uid = await processUid(r.process.pid!);
    if (uid !== r.uid) throw new Error(`${service} runs as uid ${uid}, not ${r.uid}`);

    r.process.kill("SIGTERM");
    const grace = pod.terminationGracePeriodSeconds * 1000;
    await Promise.race([r.exited, new Promise((resolve) => setTimeout(resolve, grace))]);
    if (!r.exit) throw new Error(`${service} did not stop within ${grace} ms of SIGTERM${output()}`);
    if (r.exit.code !== 0) throw new Error(`${service} exited ${r.exit.code ?? r.exit.signal} on SIGTERM${output()}`);
    const changes = await r.changes();
    if (changes.length > 0) throw new Error(`${service} changed its read-only image: ${changes.join(", ")}`);
  }

  it("finds an entry point for every deployable", () => {
    expect(
      manifests.filter((m) => !existsSync(join(repoRoot, "services", m.name, "src", "main.ts"))).map((m) => m.name),
    ).toEqual([]);
  });

  // One service at a time: on a busy two-core machine, starting all at once
  // measures the machine, not the images.
  for (const m of manifests) {
    it(`${m.name}: its image answers SERVING as uid 1000 on a read-only filesystem, then exits 0 on SIGTERM`, async () => {
      const image = await built(m.name);
      // The image holds the bundle and what sits beside it, and nothing to build or install with.
      expect(existsSync(join(image.root, image.workdir, "services", m.name, "dist", "main.js"))).toBe(true);
      expect(existsSync(join(image.root, image.workdir, "node_modules"))).toBe(false);
      await checkImage(image, m.name, m.name);
    }, 600_000);
  }

  it("fails a service that imports a file outside its image's build context, naming the import", async () => {
    await expect(built(variantName("imports"))).rejects.toThrow(
      /npm run build:services[\s\S]*services\/catalog\/src\/main\.ts imports \.\.\/\.\.\/order\/src\/settings\.ts, which is not in this image's build context/,
    );
  }, 600_000);

  it("fails a service that reads a file its image does not hold", async () => {
    const image = await built(variantName("reads"));
    await expect(checkImage(image, "catalog", "catalog_reads")).rejects.toThrow(
      /catalog exited \(1\) before answering SERVING[\s\S]*ENOENT[\s\S]*mesh\/releases\.json/,
    );
  }, 600_000);

  it("fails a service that writes into its read-only image", async () => {
    const image = await built(variantName("writes"));
    await expect(checkImage(image, "catalog", "catalog_writes")).rejects.toThrow(
      /catalog exited \(1\) before answering SERVING[\s\S]*EACCES[\s\S]*dist\/started/,
    );
  }, 600_000);
});
