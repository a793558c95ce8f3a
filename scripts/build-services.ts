// `npm run build:services [--stale] [name...]`: bundles each deployable into one file,
// services/<name>/dist/main.js, which is what every environment runs
// (`npm start`, the end-to-end tests, the image, the Deployments).
//
// Why a bundle rather than running the TypeScript sources: an idle service
// holds what its module graph cost to load. Run from sources, a service loads
// about 700 modules (each transformed from TypeScript or resolved through
// its package's `exports` map, each with its own module record and source
// text) and idles at about 110 MB resident; the same code as one bundle
// idles at about 90 MB and starts in half the time (`npm run bench:startup`).
// Bundling also resolves drizzle-orm's 180 KB `exports` map once, at build
// time: Node 24 re-parses it for each of drizzle's ~100 files it loads, which
// alone cost each service over a second of CPU at start-up.
//
// Beside each bundle: main.js.map (Node uses it only with
// --enable-source-maps, which costs ~40 MB, so it is off by default),
// migrations/ (the runtime's own tables; see runtimeMigrationsFolder) and
// main.inputs.json (the files the bundle was built from, so a rebuild happens
// only when one of them changed).
import { existsSync } from "node:fs";
import { cp, mkdir, readdir, readFile, rename, rm, stat, writeFile } from "node:fs/promises";
import path from "node:path";
import { fileURLToPath } from "node:url";
import * as esbuild from "esbuild";
import { serviceBundle as bundleFile } from "../services/runtime/src/manifest.ts";
import { postgresWriteFix } from "./postgres-write-fix.ts";
import { withoutGrpcExporters } from "./without-grpc-exporters.ts";

const REPO_ROOT = fileURLToPath(new URL("../", import.meta.url));
const RUNTIME_MIGRATIONS = "services/runtime/src/db/migrations";

function inputsFile(name: string, root: string): string {
  return path.join(root, bundleFile(name).replace(/\.js$/, ".inputs.json"));
}

/** Modification times by path, each file asked once (the services share most of their inputs). */
type ModificationTimes = Map<string, Promise<number>>;

/**
 * Whether services/<name>/dist/main.js is missing or older than any file it
 * was built from (sources, generated code, dependencies, the runtime's
 * migrations).
 */
export async function bundleIsStale(
  name: string,
  root = REPO_ROOT,
  mtimes: ModificationTimes = new Map(),
): Promise<boolean> {
  const mtimeOf = (file: string) => {
    let time = mtimes.get(file);
    if (!time) mtimes.set(file, (time = stat(file).then((s) => s.mtimeMs)));
    return time;
  };
  try {
    const built = (await stat(path.join(root, bundleFile(name)))).mtimeMs;
    const inputs = JSON.parse(await readFile(inputsFile(name, root), "utf8")) as string[];
    const times = await Promise.all(inputs.map((input) => mtimeOf(path.join(root, input))));
    return times.some((time) => time > built);
  } catch {
    return true; // not built, or an input is gone
  }
}

export interface BundleResult {
  name: string;
  /** False when the existing bundle was up to date. */
  built: boolean;
}

/**
 * Bundles the named deployables (only the stale ones unless `force`). One
 * esbuild run builds them all, sharing the parsing of what they have in
 * common: about 2 s for all seven on two cores.
 */
export async function buildServiceBundles(
  names: readonly string[],
  options: { force?: boolean; root?: string } = {},
): Promise<BundleResult[]> {
  const root = options.root ?? REPO_ROOT;
  const mtimes: ModificationTimes = new Map();
  const staleness = await Promise.all(
    names.map(async (name) => options.force === true || bundleIsStale(name, root, mtimes)),
  );
  const stale = new Set(names.filter((_, i) => staleness[i]));
  if (stale.size > 0) await bundle([...stale], root);
  return names.map((name) => ({ name, built: stale.has(name) }));
}

async function bundle(names: readonly string[], root: string): Promise<void> {
  // Written to a private directory beside dist/ (same depth, so the source
  // map's relative paths hold), then renamed into place: a service starting
  // meanwhile (another `npm start`, a test run) never reads half a bundle.
  const scratch = `.dist-${process.pid}`;
  const scratchDir = (name: string) => path.join(root, "services", name, scratch);
  const result = await esbuild
    .build({
      absWorkingDir: root,
      entryPoints: names.map((name) => ({ in: `services/${name}/src/main.ts`, out: `${name}/${scratch}/main` })),
      outdir: "services",
      bundle: true,
      platform: "node",
      format: "esm",
      target: "node24",
      // Dependencies published as CommonJS call require() for Node built-ins.
      banner: {
        js: `import { createRequire as __shopCreateRequire } from "node:module";\nconst require = __shopCreateRequire(import.meta.url);`,
      },
      // The gateway imports Vite only outside production, to build the web app.
      external: ["vite"],
      // Smaller source text to hold in memory; identifiers are kept so stack
      // traces, logs and class names read as in the sources.
      minifyWhitespace: true,
      minifySyntax: true,
      keepNames: true,
      sourcemap: "linked",
      metafile: true,
      logLevel: "warning",
      // postgres.js 3.4.9 poisons a connection whose socket dies with a write
      // buffered; the NodeSDK's OTLP/gRPC exporters are never used (see the files).
      plugins: [postgresWriteFix, withoutGrpcExporters],
    })
    .catch(async (error: unknown) => {
      await Promise.all(names.map((name) => rm(scratchDir(name), { recursive: true, force: true })));
      throw error;
    });

  const migrations = path.join(root, RUNTIME_MIGRATIONS);
  // Also inputs: the installed dependencies (npm gives their files old
  // timestamps, but rewrites its lock file on every install) and this build.
  const sharedInputs = [
    path.relative(root, fileURLToPath(import.meta.url)),
    path.relative(root, fileURLToPath(new URL("./postgres-write-fix.ts", import.meta.url))),
    path.relative(root, fileURLToPath(new URL("./without-grpc-exporters.ts", import.meta.url))),
  ];
  for (const lock of ["package-lock.json", "node_modules/.package-lock.json"]) {
    if (existsSync(path.join(root, lock))) sharedInputs.push(lock);
  }
  for (const entry of await readdir(migrations, { recursive: true, withFileTypes: true })) {
    if (entry.isFile()) sharedInputs.push(path.relative(root, path.join(entry.parentPath, entry.name)));
  }
  for (const name of names) {
    const written = `services/${name}/${scratch}/main.js`;
    const output = result.metafile.outputs[written] as (typeof result.metafile.outputs)[string] | undefined;
    if (!output) throw new Error(`esbuild wrote no ${written}`);
    const distDir = path.join(root, path.dirname(bundleFile(name)));
    await mkdir(distDir, { recursive: true });
    // The runtime applies its own migrations from next to the running module
    // (runtimeMigrationsFolder), which for a bundle is dist/: in place before
    // the bundle is. Migrations are only ever added, so copying over is enough.
    await cp(migrations, path.join(distDir, "migrations"), { recursive: true, force: true });
    await rename(path.join(root, `${written}.map`), path.join(distDir, "main.js.map"));
    await rename(path.join(root, written), path.join(root, bundleFile(name)));
    await rm(scratchDir(name), { recursive: true, force: true });
    const inputs = Object.keys(output.inputs).filter((input) => !input.includes(":"));
    await writeAtomically(inputsFile(name, root), JSON.stringify([...inputs, ...sharedInputs]));
  }
}

async function writeAtomically(file: string, contents: string): Promise<void> {
  await mkdir(path.dirname(file), { recursive: true });
  const temporary = `${file}.${process.pid}.tmp`;
  await writeFile(temporary, contents);
  await rename(temporary, file);
}

if (import.meta.main) {
  const { discoverManifests } = await import("./start/services.ts");
  const all = (await discoverManifests()).map((m) => m.name);
  // --stale: only the bundles older than one of their inputs (Tilt's `bundles`
  // resource, so an edit rebuilds what it affects); otherwise all requested.
  const stale = process.argv.includes("--stale");
  const requested = process.argv.slice(2).filter((arg) => arg !== "--stale");
  const unknown = requested.filter((name) => !all.includes(name));
  if (unknown.length > 0) {
    console.error(`no such deployable: ${unknown.join(", ")} (deployables: ${all.join(", ")})`);
    process.exit(2);
  }
  const targets = requested.length > 0 ? requested : all;
  const started = performance.now();
  const results = await buildServiceBundles(targets, { force: !stale });
  const built = results.filter((r) => r.built).map((r) => bundleFile(r.name));
  const seconds = ((performance.now() - started) / 1000).toFixed(1);
  console.log(built.length > 0 ? `bundled ${built.join(", ")} in ${seconds} s` : "every bundle is up to date");
}
