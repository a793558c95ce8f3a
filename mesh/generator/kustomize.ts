// A small, strict kustomize: enough to render mesh/overlays/* in tests (there
// is no kustomize implementation on npm, and no Go toolchain or kubectl on the
// build machines). It implements exactly the kustomization fields the overlays
// use and refuses any other, so an overlay can never rely on something this
// renderer would silently ignore:
//
//   resources   files and directories (a directory must hold kustomization.yaml)
//   patches     strategic-merge (built-in kinds; merge keys as in the Kubernetes
//               API for the lists below) or JSON merge (other kinds), or RFC 6902
//               (a YAML list of operations) with `target`; from `path` or `patch`
//   images      name -> newName / newTag / digest for containers in pod templates
//
// `kubectl apply -k` / `kustomize build` give the same result for these fields.
//
// CLI: node mesh/generator/kustomize.ts mesh/overlays/dev   (prints the rendered stream)
import { existsSync, readFileSync, statSync } from "node:fs";
import { join, resolve } from "node:path";
import { Document } from "yaml";
import { parseYamlStream, type Resource } from "./yaml.ts";

type Json = null | boolean | number | string | Json[] | Obj;
/** A mapping; a key it does not have reads as undefined. */
type Obj = { [key: string]: Json | undefined };

interface Target {
  group?: string;
  version?: string;
  kind?: string;
  name?: string;
  namespace?: string;
  labelSelector?: string;
}

interface PatchEntry {
  path?: string;
  patch?: string;
  target?: Target;
}

interface Image {
  name: string;
  newName?: string;
  newTag?: string;
  digest?: string;
}

const SUPPORTED = new Set(["apiVersion", "kind", "resources", "patches", "images"]);

const isObj = (v: unknown): v is Obj => typeof v === "object" && v !== null && !Array.isArray(v);
const clone = <T>(v: T): T => structuredClone(v);
/** A scalar as String() prints it; a mapping or list as JSON rather than "[object Object]". */
const scalar = (v: Json | undefined): string => (typeof v === "object" && v !== null ? JSON.stringify(v) : String(v));

export class KustomizeError extends Error {
  override name = "KustomizeError";
}

/** Renders the kustomization in `dir` to a list of resources. */
export function kustomize(dir: string): Resource[] {
  return build(resolve(dir), []);
}

function readKustomization(dir: string): Obj {
  for (const name of ["kustomization.yaml", "kustomization.yml", "Kustomization"]) {
    const file = join(dir, name);
    if (existsSync(file)) {
      const docs = parseYamlStream(readFileSync(file, "utf8"), file);
      if (docs.length !== 1 || !isObj(docs[0])) throw new KustomizeError(`${file}: expected one mapping`);
      return docs[0];
    }
  }
  throw new KustomizeError(`${dir}: no kustomization.yaml`);
}

function build(dir: string, stack: string[]): Resource[] {
  if (stack.includes(dir)) throw new KustomizeError(`cycle: ${[...stack, dir].join(" -> ")}`);
  const k = readKustomization(dir);
  for (const key of Object.keys(k)) {
    if (!SUPPORTED.has(key))
      throw new KustomizeError(`${dir}/kustomization.yaml: field "${key}" is not supported by this renderer`);
  }
  if (k.kind !== undefined && k.kind !== "Kustomization")
    throw new KustomizeError(`${dir}: kind must be Kustomization`);

  let resources: Resource[] = [];
  for (const entry of (k.resources as string[] | undefined) ?? []) {
    const path = resolve(dir, entry);
    if (!existsSync(path)) throw new KustomizeError(`${dir}: resource ${entry} does not exist`);
    if (statSync(path).isDirectory()) resources.push(...build(path, [...stack, dir]));
    else resources.push(...readResources(path));
  }
  checkUnique(resources, dir);

  for (const entry of (k.patches as PatchEntry[] | undefined) ?? []) resources = applyPatch(resources, entry, dir);
  for (const image of (k.images as unknown as Image[] | undefined) ?? []) applyImage(resources, image, dir);
  return resources;
}

function readResources(file: string): Resource[] {
  return parseYamlStream(readFileSync(file, "utf8"), file).map((doc) => {
    if (!isObj(doc) || typeof doc.apiVersion !== "string" || typeof doc.kind !== "string" || !isObj(doc.metadata)) {
      throw new KustomizeError(
        `${file}: every document must be a Kubernetes object with apiVersion, kind and metadata`,
      );
    }
    if (typeof doc.metadata.name !== "string") throw new KustomizeError(`${file}: a ${doc.kind} has no metadata.name`);
    return doc as unknown as Resource;
  });
}

export const resourceId = (r: Resource) =>
  `${r.apiVersion}/${r.kind}/${r.metadata.namespace ?? "~"}/${r.metadata.name}`;

function checkUnique(resources: Resource[], dir: string): void {
  const seen = new Set<string>();
  for (const r of resources) {
    const id = resourceId(r);
    if (seen.has(id)) throw new KustomizeError(`${dir}: ${id} is defined more than once`);
    seen.add(id);
  }
}

// ---------------------------------------------------------------- targets

function groupVersion(apiVersion: string): { group: string; version: string } {
  const i = apiVersion.lastIndexOf("/");
  return i < 0
    ? { group: "", version: apiVersion }
    : { group: apiVersion.slice(0, i), version: apiVersion.slice(i + 1) };
}

/** Equality-based label selectors (`a=b`, `a==b`, `a!=b`, `a`, `!a`), comma-separated. */
export function matchesLabelSelector(labels: Record<string, string> | undefined, selector: string): boolean {
  const l = labels ?? {};
  return selector
    .split(",")
    .map((s) => s.trim())
    .filter(Boolean)
    .every((term) => {
      let m: RegExpMatchArray | null;
      if ((m = term.match(/^([^!=\s]+)\s*!=\s*(\S*)$/))) return l[m[1]] !== m[2];
      if ((m = term.match(/^([^!=\s]+)\s*==?\s*(\S*)$/))) return l[m[1]] === m[2];
      if ((m = term.match(/^!([^!=\s]+)$/))) return !(m[1] in l);
      if ((m = term.match(/^([^!=\s]+)$/))) return m[1] in l;
      throw new KustomizeError(`label selector term "${term}" is not supported (equality-based only)`);
    });
}

function matchesTarget(r: Resource, t: Target): boolean {
  const { group, version } = groupVersion(r.apiVersion);
  // kustomize treats name, kind and namespace as anchored regular expressions.
  const re = (pattern: string, value: string) => new RegExp(`^(?:${pattern})$`).test(value);
  return (
    (t.group === undefined || t.group === group) &&
    (t.version === undefined || t.version === version) &&
    (t.kind === undefined || re(t.kind, r.kind)) &&
    (t.name === undefined || re(t.name, r.metadata.name)) &&
    (t.namespace === undefined || re(t.namespace, r.metadata.namespace ?? "")) &&
    (t.labelSelector === undefined || matchesLabelSelector(r.metadata.labels, t.labelSelector))
  );
}

// ---------------------------------------------------------------- patches

function applyPatch(resources: Resource[], entry: PatchEntry, dir: string): Resource[] {
  for (const key of Object.keys(entry)) {
    if (!["path", "patch", "target"].includes(key))
      throw new KustomizeError(`${dir}: patch field "${key}" is not supported`);
  }
  if ((entry.path === undefined) === (entry.patch === undefined)) {
    throw new KustomizeError(`${dir}: a patch needs exactly one of path and patch`);
  }
  const source = entry.path ?? "<inline patch>";
  const text = entry.path !== undefined ? readFileSync(join(dir, entry.path), "utf8") : (entry.patch as string);
  const docs = parseYamlStream(text, source) as Json[];
  if (docs.length === 1 && Array.isArray(docs[0])) {
    if (!entry.target) throw new KustomizeError(`${dir}: JSON 6902 patch ${source} needs a target`);
    const target = entry.target;
    const targets = resources.filter((r) => matchesTarget(r, target));
    if (targets.length === 0) throw new KustomizeError(`${dir}: patch ${source} matches no resource`);
    return resources.map((r) =>
      targets.includes(r) ? (jsonPatch(r as unknown as Json, docs[0] as Json[], source) as unknown as Resource) : r,
    );
  }
  let out = resources;
  for (const doc of docs) {
    if (!isObj(doc)) throw new KustomizeError(`${dir}: patch ${source} must be a mapping or a list of operations`);
    const target: Target = entry.target ?? {
      kind: scalar(doc.kind),
      name: scalar((doc.metadata as Obj | undefined)?.name),
      ...((doc.metadata as Obj | undefined)?.namespace ? { namespace: scalar((doc.metadata as Obj).namespace) } : {}),
    };
    const targets = out.filter((r) => matchesTarget(r, target));
    if (targets.length === 0) throw new KustomizeError(`${dir}: patch ${source} matches no resource`);
    out = out.map((r) => {
      if (!targets.includes(r)) return r;
      const patch = clone(doc);
      // With an explicit target the patch's own name is only a placeholder.
      if (entry.target && isObj(patch.metadata)) delete patch.metadata.name;
      return mergePatch(r as unknown as Obj, patch, isBuiltin(r.apiVersion), []) as unknown as Resource;
    });
  }
  return out;
}

/** Kinds kustomize knows the schema of (strategic merge); everything else gets JSON merge semantics. */
function isBuiltin(apiVersion: string): boolean {
  const { group } = groupVersion(apiVersion);
  return group === "" || !group.includes(".") || group.endsWith(".k8s.io");
}

/** List merge keys of the Kubernetes API (patchMergeKey), by field name. */
function mergeKey(field: string, items: Json[]): string | undefined {
  switch (field) {
    case "containers":
    case "initContainers":
    case "ephemeralContainers":
    case "env":
    case "volumes":
    case "imagePullSecrets":
      return "name";
    case "volumeMounts":
    case "volumeDevices":
      return "mountPath";
    case "ports":
      // Container ports merge on containerPort, Service ports on port.
      return items.some((i) => isObj(i) && "containerPort" in i) ? "containerPort" : "port";
    default:
      return undefined;
  }
}

function mergePatch(base: Json, patch: Json, strategic: boolean, path: string[]): Json {
  if (!isObj(patch)) return clone(patch);
  const out: Obj = isObj(base) ? clone(base) : {};
  for (const [key, value] of Object.entries(patch)) {
    if (key.startsWith("$")) throw new KustomizeError(`patch directive ${key} at ${path.join(".")} is not supported`);
    if (value === null) {
      // A null in a merge patch removes the key: deleting it is the operation.
      // eslint-disable-next-line @typescript-eslint/no-dynamic-delete
      delete out[key];
    } else if (isObj(value)) {
      out[key] = mergePatch(out[key] ?? null, value, strategic, [...path, key]);
    } else if (Array.isArray(value) && strategic && Array.isArray(out[key])) {
      const k = mergeKey(key, [...out[key], ...value]);
      out[key] = k ? mergeList(out[key], value, k, strategic, [...path, key]) : clone(value);
    } else {
      out[key] = clone(value);
    }
  }
  return out;
}

function mergeList(base: Json[], patch: Json[], key: string, strategic: boolean, path: string[]): Json[] {
  const out = clone(base);
  for (const item of patch) {
    if (!isObj(item) || item[key] === undefined)
      throw new KustomizeError(`list ${path.join(".")}: items need "${key}"`);
    const i = out.findIndex((o) => isObj(o) && o[key] === item[key]);
    if (i < 0) out.push(clone(item));
    else out[i] = mergePatch(out[i], item, strategic, [...path, scalar(item[key])]);
  }
  return out;
}

function pointer(path: string): string[] {
  if (path === "") return [];
  if (!path.startsWith("/")) throw new KustomizeError(`JSON pointer "${path}" must start with /`);
  return path
    .slice(1)
    .split("/")
    .map((s) => s.replace(/~1/g, "/").replace(/~0/g, "~"));
}

/** RFC 6902: add, remove, replace, test. */
export function jsonPatch(doc: Json, ops: Json[], source = "<patch>"): Json {
  let root = clone(doc);
  for (const op of ops) {
    if (!isObj(op) || typeof op.op !== "string" || typeof op.path !== "string") {
      throw new KustomizeError(`${source}: every operation needs op and path`);
    }
    const tokens = pointer(op.path);
    if (tokens.length === 0) {
      if (op.op === "replace" || op.op === "add") root = clone(op.value as Json);
      else throw new KustomizeError(`${source}: ${op.op} on the document root`);
      continue;
    }
    const parentTokens = tokens.slice(0, -1);
    const last = tokens[tokens.length - 1];
    let parent: Json = root;
    for (const t of parentTokens) {
      // An index past the end reads as undefined too (not what Json[] says).
      const child = Array.isArray(parent)
        ? (parent[Number(t)] as Json | undefined)
        : isObj(parent)
          ? parent[t]
          : undefined;
      if (child === undefined || child === null) throw new KustomizeError(`${source}: path ${op.path} does not exist`);
      parent = child;
    }
    const exists = Array.isArray(parent) ? Number(last) < parent.length : isObj(parent) && last in parent;
    switch (op.op) {
      case "add":
        if (Array.isArray(parent)) {
          const i = last === "-" ? parent.length : Number(last);
          if (!Number.isInteger(i) || i > parent.length) throw new KustomizeError(`${source}: bad index in ${op.path}`);
          parent.splice(i, 0, clone(op.value as Json));
        } else if (isObj(parent)) parent[last] = clone(op.value as Json);
        else throw new KustomizeError(`${source}: ${op.path} has no container`);
        break;
      case "replace":
      case "remove":
        if (!exists) throw new KustomizeError(`${source}: ${op.op} of missing ${op.path}`);
        if (Array.isArray(parent)) {
          if (op.op === "remove") parent.splice(Number(last), 1);
          else parent[Number(last)] = clone(op.value as Json);
        } else if (isObj(parent)) {
          // RFC 6902 remove on a mapping: deleting the key is the operation.
          // eslint-disable-next-line @typescript-eslint/no-dynamic-delete
          if (op.op === "remove") delete parent[last];
          else parent[last] = clone(op.value as Json);
        }
        break;
      case "test": {
        const actual = Array.isArray(parent) ? parent[Number(last)] : isObj(parent) ? parent[last] : undefined;
        if (JSON.stringify(actual) !== JSON.stringify(op.value))
          throw new KustomizeError(`${source}: test failed at ${op.path}`);
        break;
      }
      default:
        throw new KustomizeError(`${source}: operation ${op.op} is not supported`);
    }
  }
  return root;
}

// ---------------------------------------------------------------- images

const POD_TEMPLATE_PATHS: Partial<Record<string, string[]>> = {
  Deployment: ["spec", "template", "spec"],
  StatefulSet: ["spec", "template", "spec"],
  DaemonSet: ["spec", "template", "spec"],
  ReplicaSet: ["spec", "template", "spec"],
  Job: ["spec", "template", "spec"],
  CronJob: ["spec", "jobTemplate", "spec", "template", "spec"],
  Pod: ["spec"],
};

/** `repo/name:tag@digest` -> its name part. */
export function imageName(image: string): string {
  const noDigest = image.split("@")[0];
  const slash = noDigest.lastIndexOf("/");
  const colon = noDigest.lastIndexOf(":");
  return colon > slash ? noDigest.slice(0, colon) : noDigest;
}

function applyImage(resources: Resource[], image: Image, dir: string): void {
  let matched = 0;
  for (const r of resources) {
    const path = POD_TEMPLATE_PATHS[r.kind];
    if (!path) continue;
    let spec: unknown = r;
    for (const p of path) spec = isObj(spec) ? spec[p] : undefined;
    if (!isObj(spec)) continue;
    for (const field of ["containers", "initContainers"]) {
      for (const c of (spec[field] as Obj[] | undefined) ?? []) {
        if (typeof c.image !== "string" || imageName(c.image) !== image.name) continue;
        const tag = image.digest
          ? `@${image.digest}`
          : image.newTag
            ? `:${image.newTag}`
            : c.image.slice(imageName(c.image).length);
        c.image = `${image.newName ?? image.name}${tag}`;
        matched++;
      }
    }
  }
  if (matched === 0) throw new KustomizeError(`${dir}: image ${image.name} is used by no container`);
}

/** The rendered stream, as `kustomize build` prints it. */
export function renderStream(resources: Resource[]): string {
  return resources
    .map((r) => new Document(r, { aliasDuplicateObjects: false }).toString({ lineWidth: 0 }))
    .join("---\n");
}

if (import.meta.url === `file://${process.argv[1]}`) {
  const dir = process.argv[2];
  if (!dir || !existsSync(dir)) {
    console.error("usage: node mesh/generator/kustomize.ts <directory with kustomization.yaml>");
    process.exit(2);
  }
  process.stdout.write(renderStream(kustomize(dir)));
}
