// Every manifest under mesh/ — each generated layer, the hand-written overlay
// patches once applied, and every rendered overlay — validates against the
// Kubernetes and Istio schemas (kubernetes-models, @kubernetes-models/istio),
// with unknown keys rejected (see validate.ts for how).
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { parseYamlStream } from "../../mesh/generator/yaml.ts";
import { kustomizations, render, repoRoot } from "./fixtures.ts";
import { validateResource } from "./validate.ts";

describe("schema validation (unknown keys rejected)", () => {
  for (const dir of kustomizations) {
    it(`${dir}: every rendered object is valid`, () => {
      const resources = render(dir);
      expect(resources.length).toBeGreaterThan(0);
      const problems = resources.flatMap((r) =>
        validateResource(r).map((p) => `${r.kind}/${r.metadata.namespace ?? ""}/${r.metadata.name}: ${p}`),
      );
      expect(problems).toEqual([]);
    });
  }

  it("every object in a layer carries an explicit namespace (principals and hosts embed it)", () => {
    for (const dir of kustomizations) {
      for (const r of render(dir)) {
        if (r.kind !== "Namespace") expect(r.metadata.namespace, `${dir}: ${r.kind}/${r.metadata.name}`).toBeTruthy();
      }
    }
  });

  it("rejects unknown keys and schema errors (the validator is strict)", () => {
    const vs = {
      apiVersion: "networking.istio.io/v1",
      kind: "VirtualService",
      metadata: { name: "x", namespace: "shop" },
      spec: { hosts: ["x"], http: [{ route: [{ destination: { host: "x" } }], retriess: { attempts: 1 } }] },
    };
    expect(validateResource(vs)).toEqual(["unknown key /spec/http/0/retriess"]);
    const deployment = {
      apiVersion: "apps/v1",
      kind: "Deployment",
      metadata: { name: "x" },
      spec: {
        selector: {},
        template: { spec: { containers: [{ name: "x", image: "x", imagePullPolicyy: "Always" }] } },
      },
    };
    expect(validateResource(deployment)).toEqual(["unknown key /spec/template/spec/containers/0/imagePullPolicyy"]);
    const bad = {
      apiVersion: "security.istio.io/v1",
      kind: "PeerAuthentication",
      metadata: { name: "x" },
      spec: { mtls: { mode: "STRIKT" } },
    };
    expect(validateResource(bad).join()).toMatch(/schema: .*mode/);
    expect(validateResource({ apiVersion: "example.com/v1", kind: "Widget" })).toHaveLength(1);
  });

  it("overlay patch files are well-formed YAML", () => {
    for (const dir of kustomizations.filter((k) => k.startsWith("mesh/overlays/"))) {
      const k = parseYamlStream(readFileSync(join(repoRoot, dir, "kustomization.yaml"), "utf8"))[0] as {
        patches?: { path?: string }[];
      };
      for (const p of k.patches ?? []) {
        if (p.path) expect(() => parseYamlStream(readFileSync(join(repoRoot, dir, p.path!), "utf8"))).not.toThrow();
      }
    }
  });
});
