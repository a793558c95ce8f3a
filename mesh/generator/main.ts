// npm run generate:mesh            writes the generated files under mesh/
// npm run generate:mesh -- --check  exits 1 if any differs from what is checked in
import { existsSync, mkdirSync, readdirSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { dirname, join } from "node:path";
import { loadManifests, repoRoot } from "./contracts.ts";
import { GENERATED_DIRS, generateMesh } from "./generate.ts";

/** A file to write (with what it should contain) or to remove. */
export type Drift =
  { path: string; problem: "missing" | "differs"; content: string } | { path: string; problem: "unexpected" };

/** Generated files that are missing, differ, or sit in a generated directory without being generated. */
export function findDrift(files: Map<string, string>, root: string = repoRoot): Drift[] {
  const drift: Drift[] = [];
  for (const [path, content] of files) {
    const full = join(root, path);
    if (!existsSync(full)) drift.push({ path, problem: "missing", content });
    else if (readFileSync(full, "utf8") !== content) drift.push({ path, problem: "differs", content });
  }
  for (const dir of GENERATED_DIRS) {
    const full = join(root, dir);
    if (!existsSync(full)) continue;
    for (const entry of readdirSync(full, { withFileTypes: true })) {
      const path = `${dir}/${entry.name}`;
      if (entry.isFile() && /\.ya?ml$/.test(entry.name) && !files.has(path))
        drift.push({ path, problem: "unexpected" });
    }
  }
  return drift;
}

async function main(): Promise<void> {
  const check = process.argv.includes("--check");
  const files = generateMesh(await loadManifests());
  const drift = findDrift(files);
  if (check) {
    if (drift.length === 0) {
      console.log(`mesh/: ${files.size} generated files up to date`);
      return;
    }
    for (const d of drift) console.error(`${d.path}: ${d.problem}`);
    console.error("mesh/ is out of date: run `npm run generate:mesh` and commit the result");
    process.exitCode = 1;
    return;
  }
  for (const d of drift.filter((x) => x.problem === "unexpected")) rmSync(join(repoRoot, d.path));
  // Only what changed: Tilt watches these files and re-applies on every write.
  for (const { path, content } of drift.filter((x) => x.problem !== "unexpected")) {
    const full = join(repoRoot, path);
    mkdirSync(dirname(full), { recursive: true });
    writeFileSync(full, content);
  }
  console.log(`mesh/: ${files.size} generated files, ${drift.length} changed`);
}

if (import.meta.url === `file://${process.argv[1]}`) await main();
