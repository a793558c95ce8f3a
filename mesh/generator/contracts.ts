// What the generator reads: the service manifests (services/<name>/src/manifest.ts,
// the one declaration of name, port, served services and dependencies) and,
// through the descriptors they reference, the contracts' methods with their
// idempotency level and streaming kind.
import { existsSync, readdirSync } from "node:fs";
import { dirname, join } from "node:path";
import { fileURLToPath, pathToFileURL } from "node:url";
import type { DescMethod, DescService } from "@bufbuild/protobuf";
import { MethodOptions_IdempotencyLevel } from "@bufbuild/protobuf/wkt";
import type { ServiceManifest } from "../../services/runtime/src/manifest.ts";

export const repoRoot = join(dirname(fileURLToPath(import.meta.url)), "..", "..");

/** Folders under services/ that are libraries, not deployables. */
const NOT_DEPLOYABLE = new Set(["runtime"]);

/** Every deployable's manifest, sorted by name. */
export async function loadManifests(root: string = repoRoot): Promise<ServiceManifest[]> {
  const servicesDir = join(root, "services");
  const names = readdirSync(servicesDir, { withFileTypes: true })
    .filter((e) => e.isDirectory() && !NOT_DEPLOYABLE.has(e.name))
    .map((e) => e.name)
    .filter((name) => existsSync(join(servicesDir, name, "src", "manifest.ts")))
    .sort();
  const manifests: ServiceManifest[] = [];
  for (const folder of names) {
    const mod = (await import(pathToFileURL(join(servicesDir, folder, "src", "manifest.ts")).href)) as {
      manifest?: ServiceManifest;
    };
    const manifest = mod.manifest;
    if (!manifest) throw new Error(`services/${folder}/src/manifest.ts does not export \`manifest\``);
    if (manifest.name !== folder) {
      throw new Error(`services/${folder}/src/manifest.ts declares name "${manifest.name}"; it must be "${folder}"`);
    }
    manifests.push(manifest);
  }
  checkManifests(manifests);
  return manifests;
}

/** Consistency the mesh relies on: unique ports, dependencies that exist and serve what is called. */
export function checkManifests(manifests: readonly ServiceManifest[]): void {
  const byName = new Map(manifests.map((m) => [m.name, m]));
  const ports = new Map<number, string>();
  for (const m of manifests) {
    if (!/^[a-z][a-z0-9-]*$/.test(m.name)) throw new Error(`deployable name "${m.name}" is not a DNS label`);
    const other = ports.get(m.port);
    if (other) throw new Error(`${m.name} and ${other} both use port ${m.port}`);
    ports.set(m.port, m.name);
    for (const [callee, dep] of Object.entries(m.dependsOn)) {
      const target = byName.get(callee);
      if (!target) throw new Error(`${m.name} depends on "${callee}", which has no manifest`);
      if (!target.serves.some((s) => s.typeName === dep.service.typeName)) {
        throw new Error(`${m.name} calls ${dep.service.typeName} on ${callee}, which does not serve it`);
      }
      for (const method of dep.methods) {
        if (!dep.service.methods.some((d) => d.localName === method)) {
          throw new Error(`${m.name} declares ${dep.service.typeName}.${method}, which the contract does not have`);
        }
      }
    }
  }
}

/** `/shop.catalog.v1.CatalogService/GetProduct`: the HTTP/2 path of a method under gRPC, gRPC-Web and Connect. */
export function methodPath(method: DescMethod): string {
  return `/${method.parent.typeName}/${method.name}`;
}

/** The methods a dependency declares it calls (all of the service's when it lists none). */
export function calledMethods(dep: { service: DescService; methods?: readonly string[] }): DescMethod[] {
  if (!dep.methods) return [...dep.service.methods];
  return dep.methods.map((local) => {
    const method = dep.service.methods.find((m) => m.localName === local);
    if (!method) throw new Error(`${dep.service.typeName} has no method ${local}`);
    return method;
  });
}

/** Safe to repeat according to the contract: only these are retried after they may have reached the server. */
export function isRetryable(method: DescMethod): boolean {
  return (
    method.idempotency === MethodOptions_IdempotencyLevel.NO_SIDE_EFFECTS ||
    method.idempotency === MethodOptions_IdempotencyLevel.IDEMPOTENT
  );
}

/** A method whose response is a stream: no route timeout and no per-try timeout may cut it. */
export function isStreaming(method: DescMethod): boolean {
  return method.methodKind !== "unary";
}

/** Methods every deployable serves on top of its contracts (services/runtime: health and reflection). */
export const STANDARD_METHODS = {
  health: { service: "grpc.health.v1.Health", unary: ["Check"], streaming: ["Watch"] },
  reflection: [
    { service: "grpc.reflection.v1.ServerReflection", streaming: ["ServerReflectionInfo"] },
    { service: "grpc.reflection.v1alpha.ServerReflection", streaming: ["ServerReflectionInfo"] },
  ],
} as const;
