// Shared inputs of the mesh tests: the manifests, the generated files, and the
// rendered kustomizations (each layer alone and every overlay).
import { readdirSync, statSync } from "node:fs";
import { join } from "node:path";
import type { ServiceManifest } from "../../services/runtime/src/manifest.ts";
import { loadManifests, repoRoot } from "../../mesh/generator/contracts.ts";
import { kustomize } from "../../mesh/generator/kustomize.ts";
import type { Resource } from "../../mesh/generator/yaml.ts";

export { repoRoot };

export const manifests: ServiceManifest[] = await loadManifests();

/** Every kustomization under mesh/ (layers and overlays), relative to the repository. */
export const kustomizations: string[] = (function find(dir: string): string[] {
  const out: string[] = [];
  for (const entry of readdirSync(join(repoRoot, dir))) {
    const rel = `${dir}/${entry}`;
    if (entry === "kustomization.yaml") out.push(dir);
    else if (statSync(join(repoRoot, rel)).isDirectory() && entry !== "generator") out.push(...find(rel));
  }
  return out.sort();
})("mesh");

export const overlays = kustomizations.filter((k) => k.startsWith("mesh/overlays/"));

const cache = new Map<string, Resource[]>();
export function render(dir: string): Resource[] {
  let r = cache.get(dir);
  if (!r) {
    r = kustomize(join(repoRoot, dir));
    cache.set(dir, r);
  }
  return r;
}

// Loosely typed access for assertions over parsed YAML.
export type Any = any;

export const ofKind = (resources: Resource[], kind: string): Any[] => resources.filter((r) => r.kind === kind);
export const named = (resources: Resource[], kind: string, name: string): Any =>
  resources.find((r) => r.kind === kind && r.metadata.name === name);

/** Deployments running a deployable (one per track). */
export const deploymentsOf = (resources: Resource[], app: string): Any[] =>
  ofKind(resources, "Deployment").filter((d) => d.spec.template.metadata.labels.app === app);
