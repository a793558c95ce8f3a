// The Dockerfile, .dockerignore and Tiltfile cannot be run here (no Docker
// engine, no cluster), so they are checked against what the Deployments and
// manifests say: what the pods run must be in the image, as the user the pods
// run as, and Tilt must build, sync and forward what the cluster uses.
import { existsSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { meshConfig } from "../../mesh/generator/config.ts";
import { CONTAINER_NODE_FLAGS, SERVICE_ENVIRONMENT, serviceBundle } from "../../services/runtime/src/manifest.ts";
import { EDGE } from "../../mesh/generator/istio.ts";
import { type Any, deploymentsOf, manifests, render, repoRoot } from "./fixtures.ts";
import { BuildContext } from "./image/context.ts";
import { parseDockerfile } from "./image/dockerfile.ts";
import { evaluateTiltfile } from "./tilt/tiltfile.ts";

const dockerfile = readFileSync(join(repoRoot, "Dockerfile"), "utf8");
const parsed = parseDockerfile(dockerfile);
const { globalArgs, stages } = parsed;
const stage = (name: string) => parsed.stage(name);
const context = new BuildContext(repoRoot);
const ignored = (path: string) => context.excludes(path);
const base = render("mesh/base") as Any[];

describe("Dockerfile", () => {
  it("is multi-stage on node:24-slim, with dev and runtime targets and runtime last (the default)", () => {
    expect(globalArgs).toContainEqual({ name: "NODE_IMAGE", value: "node:24-slim" });
    expect(stages.map((s) => s.name)).toEqual(["base", "manifests", "build", "app", "dev", "runtime"]);
    expect(stage("dev").from).toBe("${NODE_IMAGE}");
    expect(stage("app").from).toBe("${NODE_IMAGE}");
    expect(stage("runtime").from).toBe("app");
  });

  it("the runtime image holds the service's bundle, no node_modules, and runs as the pods' non-root user", () => {
    const builds = stage("build")
      .instructions.filter((i) => i.keyword === "RUN")
      .map((i) => i.text);
    expect(builds.some((run) => run.includes('npm run build:services -- "$SERVICE"'))).toBe(true);
    const app = stage("app").instructions;
    expect(app.filter((i) => i.keyword === "COPY").map((i) => i.text)).toEqual(["--from=build /out/ ./"]);
    expect(builds.some((run) => run.includes("node_modules"))).toBe(false);
    const users = app.filter((i) => i.keyword === "USER").map((i) => i.text);
    expect(users.at(-1)).toBe(`${meshConfig.uid}:${meshConfig.uid}`);
    expect(
      stage("dev")
        .instructions.filter((i) => i.keyword === "USER")
        .at(-1)?.text,
    ).toBe(`${meshConfig.uid}:${meshConfig.uid}`);
    // The heap follows the container's memory limit (prod raises it), instead of a fixed 192 MB.
    expect(CONTAINER_NODE_FLAGS.some((f) => f.startsWith("--max-old-space-size-percentage="))).toBe(true);
    expect(CONTAINER_NODE_FLAGS.some((f) => f.startsWith("--max-old-space-size="))).toBe(false);
    expect(app.find((i) => i.keyword === "WORKDIR")?.text).toBe(meshConfig.workdir);
    for (const d of base.filter((r: Any) => r.kind === "Deployment")) {
      const sc = d.spec.template.spec.securityContext;
      expect([sc.runAsUser, sc.runAsGroup]).toEqual([meshConfig.uid, meshConfig.uid]);
      expect(d.spec.template.spec.containers[0].workingDir).toBe(meshConfig.workdir);
    }
  });

  it("puts into the image what each Deployment runs, and the build context has its sources", () => {
    const copies = stage("build")
      .instructions.filter((i) => i.keyword === "COPY")
      .map((i) => i.text);
    expect(copies).toContain("services/${SERVICE} ./services/${SERVICE}");
    expect(copies).toContain("services/runtime ./services/runtime");
    expect(copies).toContain("gen ./gen");
    // The bundle, its package.json and its migrations are gathered into /out, which the app stage copies.
    const gather = stage("build")
      .instructions.filter((i) => i.keyword === "RUN")
      .map((i) => i.text)
      .find((run) => run.includes("/out/services/$SERVICE"));
    expect(gather).toMatch(/cp -r package\.json dist "\/out\/services\/\$SERVICE\/"/);
    expect(gather).toMatch(/cp -r drizzle/);
    for (const m of manifests) {
      for (const d of deploymentsOf(base, m.name)) {
        const command = d.spec.template.spec.containers[0].command;
        expect(command).toEqual(["node", ...CONTAINER_NODE_FLAGS, serviceBundle(m.name)]);
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
    const cmd = stage("app")
      .instructions.find((i) => i.keyword === "CMD")
      ?.json?.at(-1);
    expect(cmd).toContain(`exec node ${CONTAINER_NODE_FLAGS.join(" ")} ${serviceBundle("$SERVICE")}`);
    const env = stage("app")
      .instructions.filter((i) => i.keyword === "ENV")
      .map((i) => i.text)
      .join(" ");
    for (const [name, value] of Object.entries(SERVICE_ENVIRONMENT)) expect(env).toContain(`${name}=${value}`);
    // Every path the build copies from the context exists and is not ignored.
    for (const s of stages) {
      for (const i of s.instructions.filter((x) => x.keyword === "COPY" && !x.flags.some((f) => f.name === "from"))) {
        const sources = i.args.slice(0, -1).filter((a) => a !== ".");
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

describe("Tiltfile (evaluated with Tilt's API recorded: tests/mesh/tilt)", () => {
  const tilt = JSON.parse(readFileSync(join(repoRoot, "mesh/services.json"), "utf8"));
  const declared = evaluateTiltfile();
  const dev = render("mesh/overlays/dev") as Any[];
  const localResource = (name: string) => declared.local_resource.find((r) => r.args[0] === name)?.kwargs;

  it("applies the dev overlay and builds, for every running track, its image from the Dockerfile's dev target", () => {
    expect(declared.k8s_yaml).toEqual([{ args: [{ kustomize: "mesh/overlays/dev" }], kwargs: {} }]);
    expect(tilt.services.map((s: Any) => s.name).sort()).toEqual(manifests.map((m) => m.name).sort());
    for (const svc of tilt.services) {
      const m = manifests.find((x) => x.name === svc.name)!;
      expect(svc.port).toBe(m.port);
      for (const { image, workload } of svc.images) {
        const build = declared.docker_build.find((b) => b.args[0] === image);
        expect(build, image).toBeDefined();
        expect(build!.kwargs).toMatchObject({
          target: "dev",
          build_args: { SERVICE: svc.name },
          only: svc.devImage.context,
        });
        const d = dev.find((r: Any) => r.kind === "Deployment" && r.metadata.name === workload);
        expect(d.spec.template.spec.containers[0].image).toBe(image);
        const resource = declared.k8s_resource.find((r) => r.args[0] === workload);
        expect(resource?.kwargs.resource_deps).toEqual(expect.arrayContaining(["bundles", "web", "postgres", "nats"]));
      }
    }
    // Every running Deployment's image is built by Tilt (a down colour's has no pods to run it).
    for (const d of dev.filter(
      (r: Any) => r.kind === "Deployment" && r.metadata.labels["app.kubernetes.io/component"] === "service",
    )) {
      if ((d.spec.replicas ?? 1) === 0) continue;
      expect(declared.docker_build.map((b) => b.args[0])).toContain(d.spec.template.spec.containers[0].image);
    }
  });

  it("live update: every file in an image's context is synced or rebuilds the image, and each sync ends with the restart trigger", () => {
    const devStage = stage("dev");
    expect(devStage.from).toBe("${NODE_IMAGE}");
    expect(devStage.instructions.filter((i) => i.keyword === "COPY").map((i) => i.text)).toEqual([
      "--chown=1000:1000 services/${SERVICE} ./services/${SERVICE}",
    ]);
    // The trigger exists in the image, writable by the app user.
    expect(devStage.instructions.find((i) => i.keyword === "RUN")?.text).toContain(
      "install -o 1000 -g 1000 -m 0644 /dev/null /app/.live-update",
    );
    for (const build of declared.docker_build) {
      const steps: Any[] = build.kwargs.live_update;
      const only: string[] = build.kwargs.only;
      expect(steps[0].step).toBe("fall_back_on");
      const syncs = steps.filter((x) => x.step === "sync");
      for (const path of only) {
        const covered = steps[0].paths.includes(path) || syncs.some((x) => x.local === path);
        expect(covered, `${build.args[0]}: ${path} would rebuild the image on every change`).toBe(true);
        expect(ignored(path), `${path} is excluded by .dockerignore`).toBe(false);
        expect(path.startsWith(`services/${build.kwargs.build_args.SERVICE}/`)).toBe(true);
      }
      for (const x of syncs) expect(x.remote).toBe(`${meshConfig.workdir}/${x.local}`);
      // Last: rewrite the trigger in place (a redirect truncates the same inode; a sync would replace it).
      expect(steps.at(-1)).toEqual({ step: "run", cmd: "date > /app/.live-update", trigger: null });
    }
    for (const d of dev.filter(
      (r: Any) => r.kind === "Deployment" && r.metadata.labels["app.kubernetes.io/component"] === "service",
    ))
      expect(d.spec.template.spec.containers[0].command[1]).toBe("--watch-path=.live-update");
    expect(stage("dev").instructions.find((i) => i.keyword === "CMD")?.text).toContain("--watch-path=.live-update");
  });

  it("rebuilds only what an edit affects: stale bundles, the storefront, gen/ from protos, the mesh from manifests", () => {
    const bundles = localResource("bundles")!;
    expect(bundles.cmd).toBe("npm run build:services -- --stale");
    expect(bundles.deps).toEqual(expect.arrayContaining(["gen/src", "services"]));
    expect(bundles.ignore).toEqual(expect.arrayContaining(["services/*/dist", "services/gateway/web"]));
    const web = localResource("web")!;
    expect(web.cmd).toBe("npm run build -w services/gateway");
    expect(web.deps).toEqual(["services/gateway/web"]);
    expect(web.ignore).toContain("services/gateway/web/dist");
    expect(localResource("protos")).toMatchObject({ cmd: "npm run generate", deps: expect.arrayContaining(["proto"]) });
    const mesh = localResource("mesh")!;
    expect(mesh.cmd).toBe("npm run generate:mesh");
    expect(mesh.deps).toEqual(
      expect.arrayContaining([
        "mesh/generator",
        "mesh/releases.json",
        "gen/src",
        ...manifests.map((m) => `services/${m.name}/src/manifest.ts`),
      ]),
    );
    for (const m of manifests) expect(existsSync(join(repoRoot, `services/${m.name}/src/manifest.ts`))).toBe(true);
  });

  it("forwards the gateway's, Jaeger's, Prometheus' and Grafana's ports, for workloads that exist", () => {
    const edge = manifests.find((m) => m.name === EDGE)!;
    expect(declared.k8s_resource.find((r) => r.args[0] === `${EDGE}-v1`)?.kwargs.port_forwards).toEqual([
      `${edge.port}:${edge.port}`,
    ]);
    const forwards = Object.fromEntries(
      declared.k8s_resource.map((r) => [r.args[0], r.kwargs.port_forwards ?? []] as const),
    );
    expect(forwards.jaeger).toEqual(["16686:16686"]);
    expect(forwards.prometheus).toEqual(["9090:9090"]);
    expect(forwards.grafana).toEqual(["3000:3000"]);
    for (const r of declared.k8s_resource) {
      const name = r.args[0] as string;
      const workload = dev.find((x: Any) => ["Deployment", "StatefulSet"].includes(x.kind) && x.metadata.name === name);
      expect(workload, `k8s_resource ${name}`).toBeDefined();
      for (const forward of r.kwargs.port_forwards ?? []) {
        const port = Number(String(forward).split(":")[1]);
        const ports = workload.spec.template.spec.containers.flatMap((c: Any) =>
          c.ports.map((p: Any) => p.containerPort),
        );
        expect(ports, `${name} forwards ${port}`).toContain(port);
      }
    }
  });
});
