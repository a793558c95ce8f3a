// The Dockerfile, .dockerignore and Tiltfile cannot be run here (no Docker
// engine, no cluster), so they are checked against what the Deployments and
// manifests say: what the pods run must be in the image, as the user the pods
// run as, and Tilt must build, sync and forward what the cluster uses.
import { existsSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { meshConfig } from "../../mesh/generator/config.ts";
import { SERVICE_ENVIRONMENT, SERVICE_NODE_FLAGS, serviceBundle } from "../../services/runtime/src/manifest.ts";
import { EDGE } from "../../mesh/generator/istio.ts";
import { type Any, deploymentsOf, manifests, render, repoRoot } from "./fixtures.ts";

const dockerfile = readFileSync(join(repoRoot, "Dockerfile"), "utf8");
const tiltfile = readFileSync(join(repoRoot, "Tiltfile"), "utf8");
const ignore = readFileSync(join(repoRoot, ".dockerignore"), "utf8")
  .split("\n")
  .map((l) => l.trim())
  .filter((l) => l && !l.startsWith("#"));

interface Instruction {
  op: string;
  args: string;
}
interface Stage {
  from: string;
  name?: string;
  instructions: Instruction[];
}

/** Dockerfile -> stages of instructions (continuation lines joined, comments dropped). */
function parseDockerfile(text: string): { args: Instruction[]; stages: Stage[] } {
  const lines = text
    .replace(/\\\n/g, " ")
    .split("\n")
    .map((l) => l.trim())
    .filter((l) => l && !l.startsWith("#"));
  const args: Instruction[] = [];
  const stages: Stage[] = [];
  for (const line of lines) {
    const [, op, rest] = line.match(/^(\S+)\s+(.*)$/) ?? [];
    const instruction = { op: op.toUpperCase(), args: rest };
    if (instruction.op === "FROM") {
      const m = rest.match(/^(\S+)(?:\s+AS\s+(\S+))?$/i)!;
      stages.push({ from: m[1], name: m[2], instructions: [] });
    } else if (stages.length === 0) args.push(instruction);
    else stages.at(-1)!.instructions.push(instruction);
  }
  return { args, stages };
}

/** .dockerignore semantics for the patterns we use: `**` any depth, `*` one segment, a match excludes the subtree. */
function ignored(path: string): boolean {
  const toRe = (p: string) =>
    new RegExp(
      `^${p
        .replace(/[.+^${}()|[\]\\]/g, "\\$&")
        .replace(/\*\*\//g, "\u0000")
        .replace(/\*/g, "[^/]*")
        .replace(/\u0000/g, "(?:.*/)?")}(?:/.*)?$`,
    );
  let result = false;
  for (const p of ignore) {
    if (p.startsWith("!")) {
      if (toRe(p.slice(1)).test(path)) result = false;
    } else if (toRe(p).test(path)) result = true;
  }
  return result;
}

const { args: globalArgs, stages } = parseDockerfile(dockerfile);
const stage = (name: string) => stages.find((s) => s.name === name)!;
const base = render("mesh/base") as Any[];

describe("Dockerfile", () => {
  it("is multi-stage on node:24-slim, with dev and runtime targets and runtime last (the default)", () => {
    expect(globalArgs).toContainEqual({ op: "ARG", args: "NODE_IMAGE=node:24-slim" });
    expect(stages.map((s) => s.name)).toEqual(["base", "manifests", "build", "app", "dev", "runtime"]);
    expect(stage("app").from).toBe("${NODE_IMAGE}");
    expect(stage("runtime").from).toBe("app");
  });

  it("the runtime image holds the service's bundle, no node_modules, and runs as the pods' non-root user", () => {
    const builds = stage("build")
      .instructions.filter((i) => i.op === "RUN")
      .map((i) => i.args);
    expect(builds.some((run) => run.includes('npm run build:services -- "$SERVICE"'))).toBe(true);
    const app = stage("app").instructions;
    expect(app.filter((i) => i.op === "COPY").map((i) => i.args)).toEqual(["--from=build /out/ ./"]);
    expect(builds.some((run) => run.includes("node_modules"))).toBe(false);
    const users = app.filter((i) => i.op === "USER").map((i) => i.args);
    expect(users.at(-1)).toBe(`${meshConfig.uid}:${meshConfig.uid}`);
    expect(
      stage("dev")
        .instructions.filter((i) => i.op === "USER")
        .at(-1)?.args,
    ).toBe(`${meshConfig.uid}:${meshConfig.uid}`);
    expect(app.find((i) => i.op === "WORKDIR")?.args).toBe(meshConfig.workdir);
    for (const d of base.filter((r: Any) => r.kind === "Deployment")) {
      const sc = d.spec.template.spec.securityContext;
      expect([sc.runAsUser, sc.runAsGroup]).toEqual([meshConfig.uid, meshConfig.uid]);
      expect(d.spec.template.spec.containers[0].workingDir).toBe(meshConfig.workdir);
    }
  });

  it("puts into the image what each Deployment runs, and the build context has its sources", () => {
    const copies = stage("build")
      .instructions.filter((i) => i.op === "COPY")
      .map((i) => i.args);
    expect(copies).toContain("services/${SERVICE} ./services/${SERVICE}");
    expect(copies).toContain("services/runtime ./services/runtime");
    expect(copies).toContain("gen ./gen");
    // The bundle, its package.json and its migrations are gathered into /out, which the app stage copies.
    const gather = stage("build")
      .instructions.filter((i) => i.op === "RUN")
      .map((i) => i.args)
      .find((run) => run.includes("/out/services/$SERVICE"));
    expect(gather).toMatch(/cp -r package\.json dist "\/out\/services\/\$SERVICE\/"/);
    expect(gather).toMatch(/cp -r drizzle/);
    for (const m of manifests) {
      for (const d of deploymentsOf(base, m.name)) {
        const command = d.spec.template.spec.containers[0].command;
        expect(command).toEqual(["node", ...SERVICE_NODE_FLAGS, serviceBundle(m.name)]);
      }
      for (const source of [
        `services/${m.name}/src/main.ts`,
        `services/${m.name}/src/manifest.ts`,
        `services/${m.name}/package.json`,
      ]) {
        expect(ignored(source), `${source} is excluded by .dockerignore`).toBe(false);
      }
    }
    // Run without the Deployments' command (docker run), the image does the same.
    const cmd = stage("app").instructions.find((i) => i.op === "CMD")?.args;
    expect(cmd).toContain(`exec node ${SERVICE_NODE_FLAGS.join(" ")} ${serviceBundle("$SERVICE")}`);
    const env = stage("app")
      .instructions.filter((i) => i.op === "ENV")
      .map((i) => i.args)
      .join(" ");
    for (const [name, value] of Object.entries(SERVICE_ENVIRONMENT)) expect(env).toContain(`${name}=${value}`);
    // Every path the build copies from the context exists and is not ignored.
    for (const s of stages) {
      for (const i of s.instructions.filter((x) => x.op === "COPY" && !x.args.startsWith("--from"))) {
        const sources = i.args
          .split(/\s+/)
          .slice(0, -1)
          .filter((a) => !a.startsWith("--") && a !== ".");
        for (const src of sources.map((x) => x.replace("${SERVICE}", "catalog"))) {
          expect(existsSync(join(repoRoot, src)), `${src} does not exist`).toBe(true);
          expect(ignored(src), `${src} is excluded by .dockerignore`).toBe(false);
        }
      }
    }
  });

  it(".dockerignore keeps host installs and generated install-time code out", () => {
    for (const p of [
      "node_modules",
      "services/runtime/node_modules",
      ".proto-deps",
      "services/runtime/src/grpc-gen",
      ".git",
      "mesh",
    ]) {
      expect(ignored(p), p).toBe(true);
    }
    for (const p of [
      "package.json",
      "package-lock.json",
      "gen/src",
      "services/runtime/src/server.ts",
      "proto",
      "scripts",
      "buf.yaml",
    ]) {
      expect(ignored(p), p).toBe(false);
    }
  });
});

describe("Tiltfile", () => {
  const tilt = JSON.parse(readFileSync(join(repoRoot, "mesh/services.json"), "utf8"));

  it("builds every service's image for the dev target and applies the dev overlay", () => {
    expect(tiltfile).toContain("k8s_yaml(kustomize('mesh/overlays/dev'))");
    expect(tiltfile).toContain("target='dev'");
    expect(tiltfile).toContain("build_args={'SERVICE': name}");
    const dev = render("mesh/overlays/dev") as Any[];
    for (const svc of tilt.services) {
      const m = manifests.find((x) => x.name === svc.name)!;
      expect(svc.port).toBe(m.port);
      const deployments = deploymentsOf(dev, m.name);
      expect(deployments.map((d) => d.metadata.name).sort()).toEqual([...svc.workloads].sort());
      for (const d of deployments) expect(d.spec.template.spec.containers[0].image).toBe(svc.image);
    }
    expect(tilt.services.map((s: Any) => s.name).sort()).toEqual(manifests.map((m) => m.name).sort());
  });

  it("rebuilds the bundles on source changes and live-updates them into the path the pods run, regenerates on proto changes", () => {
    expect(tiltfile).toMatch(
      /local_resource\(\s*'bundles',\s*cmd='npm run build:services',\s*deps=\['gen\/src', 'services'\]/,
    );
    expect(tiltfile).toMatch(/sync\('services\/' \+ name, '\/app\/services\/' \+ name\)/);
    expect(serviceBundle("x")).toBe("services/x/dist/main.js");
    expect(ignored("services/catalog/dist/main.js"), "the synced bundle is excluded by .dockerignore").toBe(false);
    expect(tiltfile).toMatch(
      /local_resource\(\s*'generate',\s*cmd='npm run generate && npm run generate:mesh',\s*deps=\['proto'/,
    );
    for (const m of manifests)
      expect(
        deploymentsOf(render("mesh/overlays/dev") as Any[], m.name)[0].spec.template.spec.containers[0].command[1],
      ).toBe("--watch");
  });

  it("forwards the gateway's and Jaeger's ports, and depends on resources that exist", () => {
    const edge = manifests.find((m) => m.name === EDGE)!;
    expect(tiltfile).toContain(`port_forwards = {'${EDGE}': ['${edge.port}:${edge.port}']}`);
    expect(tiltfile).toContain("k8s_resource('jaeger', labels=['infra'], port_forwards=['16686:16686'])");
    const dev = render("mesh/overlays/dev") as Any[];
    for (const name of ["postgres", "nats", "otel-collector", "jaeger"]) {
      expect(
        dev.some((r: Any) => ["Deployment", "StatefulSet"].includes(r.kind) && r.metadata.name === name),
        name,
      ).toBe(true);
    }
    expect(
      dev.find((r: Any) => r.kind === "Service" && r.metadata.name === "jaeger").spec.ports.map((p: Any) => p.port),
    ).toContain(16686);
  });
});
