// The service bundler on a throwaway repository layout: what it writes, that
// the bundle runs on its own, and when it decides a bundle is stale.
import { spawnSync } from "node:child_process";
import {
  existsSync,
  mkdirSync,
  mkdtempSync,
  readdirSync,
  readFileSync,
  rmSync,
  utimesSync,
  writeFileSync,
} from "node:fs";
import os from "node:os";
import path from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { bundleIsStale, buildServiceBundles } from "./build-services.ts";

let root: string;
const file = (relative: string) => path.join(root, relative);
function write(relative: string, text: string): void {
  mkdirSync(path.dirname(file(relative)), { recursive: true });
  writeFileSync(file(relative), text);
}
/** Makes `relative` look modified after shelf's bundle was written (by dating the bundle back). */
function touchLater(relative: string): void {
  const bundleTime = new Date(Date.now() - 60_000);
  const editTime = new Date(Date.now() - 30_000);
  utimesSync(file("services/shelf/dist/main.js"), bundleTime, bundleTime);
  utimesSync(file(relative), editTime, editTime);
}

beforeAll(() => {
  root = mkdtempSync(path.join(os.tmpdir(), "shop-bundle-test-"));
  write("services/runtime/src/db/migrations/0000_init.sql", "create table t (id int);\n");
  write("services/runtime/src/db/migrations/meta/_journal.json", "{}\n");
  write("services/shelf/package.json", JSON.stringify({ type: "module" }));
  write("services/shelf/src/count.ts", "export const count = (items: readonly string[]): number => items.length;\n");
  write(
    "services/shelf/src/main.ts",
    [
      'import { readdirSync } from "node:fs";',
      'import { count } from "./count.ts";',
      "enum Shelf { Top = 1 }",
      'const migrations = readdirSync(new URL("./migrations", import.meta.url));',
      "console.log(JSON.stringify({ shelf: Shelf.Top, migrations: count(migrations) }));",
      "",
    ].join("\n"),
  );
});
afterAll(() => rmSync(root, { recursive: true, force: true }));

describe("buildServiceBundles", () => {
  it("writes one runnable file with the runtime's migrations beside it", async () => {
    expect(await bundleIsStale("shelf", root)).toBe(true);
    expect(await buildServiceBundles(["shelf"], { root })).toEqual([{ name: "shelf", built: true }]);

    const bundle = file("services/shelf/dist/main.js");
    expect(readFileSync(bundle, "utf8")).not.toMatch(/from "\.\/count\.ts"/);
    expect(existsSync(`${bundle}.map`)).toBe(true);
    expect(existsSync(file("services/shelf/dist/migrations/0000_init.sql"))).toBe(true);
    // TypeScript-only syntax (an enum) is compiled away: plain Node runs it, no flags.
    const run = spawnSync(process.execPath, [bundle], { encoding: "utf8" });
    expect(run.stderr).toBe("");
    expect(JSON.parse(run.stdout)).toEqual({ shelf: 1, migrations: 2 });
    expect(JSON.parse(readFileSync(file("services/shelf/dist/main.inputs.json"), "utf8"))).toContain(
      "services/shelf/src/count.ts",
    );
    // Nothing left behind by the write-aside-and-rename.
    expect(readdirSync(file("services/shelf")).sort()).toEqual(["dist", "package.json", "src"]);
    expect(readdirSync(file("services/shelf/dist")).sort()).toEqual([
      "main.inputs.json",
      "main.js",
      "main.js.map",
      "migrations",
    ]);
    const sourceMap = JSON.parse(readFileSync(`${bundle}.map`, "utf8")) as { sources: string[] };
    expect(sourceMap.sources).toContain("../src/count.ts");
  });

  it("rebuilds only when a source, a migration or the lock file changed, or an input is gone", async () => {
    await buildServiceBundles(["shelf"], { root, force: true });
    expect(await bundleIsStale("shelf", root)).toBe(false);
    expect(await buildServiceBundles(["shelf"], { root })).toEqual([{ name: "shelf", built: false }]);

    touchLater("services/shelf/src/count.ts");
    expect(await bundleIsStale("shelf", root)).toBe(true);
    await buildServiceBundles(["shelf"], { root });
    expect(await bundleIsStale("shelf", root)).toBe(false);

    touchLater("services/runtime/src/db/migrations/0000_init.sql");
    expect(await bundleIsStale("shelf", root)).toBe(true);
    await buildServiceBundles(["shelf"], { root });

    write("package-lock.json", "{}\n");
    await buildServiceBundles(["shelf"], { root });
    touchLater("package-lock.json");
    expect(await bundleIsStale("shelf", root)).toBe(true);
    await buildServiceBundles(["shelf"], { root });

    rmSync(file("package-lock.json"));
    expect(await bundleIsStale("shelf", root)).toBe(true);
  });

  it("fails with esbuild's message on a source that does not compile", async () => {
    write("services/broken/src/main.ts", 'import { nothing } from "./missing.ts";\nconsole.log(nothing);\n');
    await expect(buildServiceBundles(["broken"], { root })).rejects.toThrow(/missing\.ts/);
    expect(readdirSync(file("services/broken"))).toEqual(["src"]);
  });
});
