// Blue-green, through every state `npm run mesh:switch` moves a service
// through: idle colour down, brought up (reachable only with x-preview),
// switched live (requests and events together), rolled back. Each state is
// generated, rendered through both overlays and checked like the committed
// mesh (schemas included).
import { cpSync, mkdirSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { dirname, join } from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { fqdn } from "../../mesh/generator/config.ts";
import { generateMesh } from "../../mesh/generator/generate.ts";
import { kustomize } from "../../mesh/generator/kustomize.ts";
import { readReleasePlan, type ReleasePlan } from "../../mesh/generator/releases.ts";
import { SwitchError, switchRelease } from "../../mesh/generator/switch.ts";
import { ROUTING_HEADERS } from "../../services/runtime/src/routing-headers.ts";
import { type Any, manifests, repoRoot } from "./fixtures.ts";
import { validateResource } from "./validate.ts";

const SERVICE = "payment";
const scratch: string[] = [];
afterAll(() => {
  for (const dir of scratch) rmSync(dir, { recursive: true, force: true });
});

/** The mesh a plan generates, rendered through an overlay (hand-written overlays as committed). */
function renderPlan(plan: ReleasePlan, overlay: "dev" | "prod"): Any[] {
  const root = mkdtempSync(join(tmpdir(), "blue-green-"));
  scratch.push(root);
  cpSync(join(repoRoot, "mesh/overlays"), join(root, "mesh/overlays"), { recursive: true });
  for (const [path, content] of generateMesh(manifests, plan)) {
    mkdirSync(dirname(join(root, path)), { recursive: true });
    writeFileSync(join(root, path), content);
  }
  return kustomize(join(root, "mesh/overlays", overlay)) as Any[];
}

const deployment = (r: Any[], colour: string) =>
  r.find((x) => x.kind === "Deployment" && x.metadata.name === `${SERVICE}-${colour}`);
const routes = (r: Any[]) =>
  r.find((x) => x.kind === "VirtualService" && x.spec.hosts.includes(fqdn(SERVICE))).spec.http as Any[];
const subsets = (r: Any[]) =>
  r.find((x) => x.kind === "DestinationRule" && x.spec.host === fqdn(SERVICE)).spec.subsets.map((s: Any) => s.name);
const eventsTrack = (r: Any[]) =>
  JSON.parse(r.find((x) => x.kind === "ConfigMap" && x.metadata.name === "shop-release").data["release.json"])[SERVICE]
    .events;
const previewRoutes = (r: Any[], colour: string) =>
  routes(r).filter((x) => x.match?.some((m: Any) => m.headers?.[ROUTING_HEADERS.preview]?.exact === colour));
const defaultRoutes = (r: Any[]) => routes(r).filter((x) => !x.match?.some((m: Any) => m.headers));

describe(`blue-green (${SERVICE}): down, up, switch, roll back`, () => {
  const down: ReleasePlan = { ...readReleasePlan(), [SERVICE]: { strategy: "blue-green", live: "blue", idle: "down" } };
  const up = switchRelease(down, SERVICE, "up");
  const green = switchRelease(up, SERVICE, "green");
  const back = switchRelease(green, SERVICE, "blue");

  it("is what the committed plan says today (blue live, green down)", () => {
    expect(readReleasePlan()[SERVICE]).toEqual(down[SERVICE]);
  });

  for (const [state, plan] of Object.entries({ down, up, green, back })) {
    it(`${state}: every object of both overlays is valid`, () => {
      for (const overlay of ["dev", "prod"] as const) {
        const problems = renderPlan(plan, overlay).flatMap((r) =>
          validateResource(r).map((p) => `${r.kind}/${r.metadata.name}: ${p}`),
        );
        expect(problems).toEqual([]);
      }
    });
  }

  it("down: green has no pods, no subset and no route; blue takes every request and every event", () => {
    const r = renderPlan(down, "prod");
    expect(deployment(r, "green").spec.replicas).toBe(0);
    expect(deployment(r, "blue").spec.replicas).toBeUndefined();
    expect(subsets(r)).toEqual(["blue"]);
    expect(previewRoutes(r, "green")).toEqual([]);
    for (const route of defaultRoutes(r)) expect(route.route.map((d: Any) => d.destination.subset)).toEqual(["blue"]);
    expect(eventsTrack(r)).toBe("blue");
    expect(r.filter((x) => x.kind === "HorizontalPodAutoscaler").map((x) => x.metadata.name)).toContain(
      `${SERVICE}-blue`,
    );
    expect(r.filter((x) => x.kind === "HorizontalPodAutoscaler").map((x) => x.metadata.name)).not.toContain(
      `${SERVICE}-green`,
    );
  });

  it("up: green at full size, reachable for every method only with x-preview: green; live traffic and events stay blue", () => {
    const r = renderPlan(up, "prod");
    expect(deployment(r, "green").spec.replicas).toBeUndefined();
    const hpa = (colour: string) =>
      r.find((x) => x.kind === "HorizontalPodAutoscaler" && x.metadata.name === `${SERVICE}-${colour}`).spec;
    expect(hpa("green").minReplicas).toBe(hpa("blue").minReplicas);
    expect(subsets(r)).toEqual(["blue", "green"]);
    expect(previewRoutes(r, "green")).toHaveLength(defaultRoutes(r).length);
    for (const route of previewRoutes(r, "green"))
      expect(route.route.map((d: Any) => d.destination.subset)).toEqual(["green"]);
    for (const route of defaultRoutes(r)) expect(route.route.map((d: Any) => d.destination.subset)).toEqual(["blue"]);
    expect(eventsTrack(r)).toBe("blue");
  });

  it("switch: every request and the events go to green in the same apply, blue stays up and previewable", () => {
    const r = renderPlan(green, "prod");
    for (const route of defaultRoutes(r)) expect(route.route.map((d: Any) => d.destination.subset)).toEqual(["green"]);
    expect(eventsTrack(r)).toBe("green");
    expect(deployment(r, "blue").spec.replicas).toBeUndefined();
    expect(previewRoutes(r, "blue")).toHaveLength(defaultRoutes(r).length);
    expect(previewRoutes(r, "green")).toEqual([]);
    // Nothing about a pod changes: the switch restarts none (the events move through the mounted ConfigMap).
    const podTemplates = (x: Any[]) => ["blue", "green"].map((c) => JSON.stringify(deployment(x, c).spec.template));
    expect(podTemplates(r)).toEqual(podTemplates(renderPlan(up, "prod")));
  });

  it("roll back: the same switch in reverse", () => {
    const r = renderPlan(back, "prod");
    for (const route of defaultRoutes(r)) expect(route.route.map((d: Any) => d.destination.subset)).toEqual(["blue"]);
    expect(eventsTrack(r)).toBe("blue");
    expect(subsets(r)).toEqual(["blue", "green"]);
  });

  it("refuses what would route to nothing or does nothing", () => {
    expect(() => switchRelease(down, SERVICE, "green")).toThrow(SwitchError);
    expect(() => switchRelease(down, SERVICE, "green")).toThrow(/bring it up first/);
    expect(() => switchRelease(up, SERVICE, "blue")).toThrow(/already live/);
    expect(() => switchRelease(down, "order", "up")).toThrow(/not released blue-green/);
    expect(() => generateMesh(manifests, { ...down, nosuch: { strategy: "canary", weight: 5 } })).toThrow(
      /nosuch: no such service/,
    );
    expect(() => generateMesh(manifests, { ...down, order: { strategy: "canary", weight: 120 } })).toThrow(/weight/);
  });
});
