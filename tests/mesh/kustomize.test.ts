// The small kustomize used to render the overlays (mesh/generator/kustomize.ts):
// the merge rules the overlays rely on, and refusal of everything else.
import { mkdtempSync, mkdirSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { imageName, jsonPatch, kustomize, matchesLabelSelector } from "../../mesh/generator/kustomize.ts";
import type { Any } from "./fixtures.ts";

function tree(files: Record<string, string>): string {
  const root = mkdtempSync(join(tmpdir(), "kustomize-"));
  for (const [path, content] of Object.entries(files)) {
    mkdirSync(join(root, path, ".."), { recursive: true });
    writeFileSync(join(root, path), content);
  }
  return root;
}

const base = {
  "base/kustomization.yaml": "resources: [app.yaml]\n",
  "base/app.yaml": `apiVersion: apps/v1
kind: Deployment
metadata: { name: app-v1, namespace: ns, labels: { app: app, tier: svc } }
spec:
  replicas: 2
  template:
    spec:
      containers:
        - name: app
          image: shop-app
          command: [node, main.ts]
          env: [{ name: A, value: "1" }, { name: B, value: "2" }]
          ports: [{ name: grpc, containerPort: 7001 }]
---
apiVersion: v1
kind: Service
metadata: { name: app, namespace: ns }
spec:
  ports: [{ name: grpc, port: 7001 }]
---
apiVersion: networking.istio.io/v1
kind: Gateway
metadata: { name: gw, namespace: ns }
spec:
  servers: [{ port: { number: 80, name: http, protocol: HTTP }, hosts: ["*"] }]
`,
};

describe("kustomize renderer", () => {
  it("strategic merge: lists with merge keys merge by key, others are replaced, null deletes", () => {
    const root = tree({
      ...base,
      "o/kustomization.yaml": "resources: [../base]\npatches:\n  - path: p.yaml\n",
      "o/p.yaml": `apiVersion: apps/v1
kind: Deployment
metadata: { name: app-v1, namespace: ns }
spec:
  replicas: null
  template:
    spec:
      containers:
        - name: app
          command: [node, --watch, main.ts]
          env: [{ name: B, value: "3" }, { name: C, value: "4" }]
`,
    });
    const [d] = kustomize(join(root, "o")) as Any[];
    expect(d.spec.replicas).toBeUndefined();
    const c = d.spec.template.spec.containers[0];
    expect(c.image).toBe("shop-app");
    expect(c.command).toEqual(["node", "--watch", "main.ts"]);
    expect(c.env).toEqual([
      { name: "A", value: "1" },
      { name: "B", value: "3" },
      { name: "C", value: "4" },
    ]);
  });

  it("JSON 6902 patches with a label-selector target, and image rewrites", () => {
    const root = tree({
      ...base,
      "o/kustomization.yaml": `resources: [../base]
patches:
  - path: ops.yaml
    target: { kind: Deployment, labelSelector: "tier=svc,app!=other" }
images:
  - { name: shop-app, newName: registry.example.com/app, newTag: "1.2.3" }
`,
      "o/ops.yaml":
        "- { op: add, path: /spec/template/spec/containers/0/command/1, value: --watch }\n- { op: replace, path: /spec/replicas, value: 1 }\n",
    });
    const [d] = kustomize(join(root, "o")) as Any[];
    expect(d.spec.replicas).toBe(1);
    expect(d.spec.template.spec.containers[0].command).toEqual(["node", "--watch", "main.ts"]);
    expect(d.spec.template.spec.containers[0].image).toBe("registry.example.com/app:1.2.3");
  });

  it("custom resources get JSON merge semantics (lists replaced)", () => {
    const root = tree({
      ...base,
      "o/kustomization.yaml": "resources: [../base]\npatches:\n  - path: p.yaml\n",
      "o/p.yaml":
        "apiVersion: networking.istio.io/v1\nkind: Gateway\nmetadata: { name: gw, namespace: ns }\nspec:\n  servers: [{ port: { number: 443, name: https, protocol: HTTPS }, hosts: [a.example] }]\n",
    });
    const gw = (kustomize(join(root, "o")) as Any[]).find((r) => r.kind === "Gateway");
    expect(gw.spec.servers).toHaveLength(1);
    expect(gw.spec.servers[0].port.number).toBe(443);
  });

  it("refuses what it does not implement, patches that match nothing, duplicates", () => {
    const withField = tree({ ...base, "o/kustomization.yaml": "resources: [../base]\nnamespace: other\n" });
    expect(() => kustomize(join(withField, "o"))).toThrow(/field "namespace" is not supported/);
    const noMatch = tree({
      ...base,
      "o/kustomization.yaml":
        "resources: [../base]\npatches:\n  - patch: '[{op: replace, path: /spec/replicas, value: 1}]'\n    target: { kind: StatefulSet }\n",
    });
    expect(() => kustomize(join(noMatch, "o"))).toThrow(/matches no resource/);
    const dup = tree({ ...base, "o/kustomization.yaml": "resources: [../base, ../base/app.yaml]\n" });
    expect(() => kustomize(join(dup, "o"))).toThrow(/more than once/);
    const directive = tree({
      ...base,
      "o/kustomization.yaml": "resources: [../base]\npatches:\n  - path: p.yaml\n",
      "o/p.yaml": "apiVersion: v1\nkind: Service\nmetadata: { name: app, namespace: ns }\n$patch: delete\n",
    });
    expect(() => kustomize(join(directive, "o"))).toThrow(/not supported/);
  });

  it("JSON pointer details and selectors", () => {
    expect(
      jsonPatch({ a: [1, 2] }, [
        { op: "add", path: "/a/-", value: 3 },
        { op: "remove", path: "/a/0" },
        { op: "add", path: "/b~1c", value: 1 },
      ]),
    ).toEqual({ a: [2, 3], "b/c": 1 });
    expect(() => jsonPatch({}, [{ op: "replace", path: "/x", value: 1 }])).toThrow(/missing/);
    expect(matchesLabelSelector({ a: "1" }, "a=1,!b")).toBe(true);
    expect(matchesLabelSelector({ a: "1" }, "a!=1")).toBe(false);
    expect(imageName("registry:5000/x/y:1.0@sha256:abc")).toBe("registry:5000/x/y");
  });
});
