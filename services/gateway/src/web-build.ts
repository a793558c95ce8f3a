// Makes sure there is a built web app to serve. `npm ci && npm start` on a
// fresh machine has sources only (web/dist is not committed), and a developer
// who edits web/src expects the next start to serve the change, so outside
// production the gateway (re)builds the app with Vite when dist/ is missing or
// older than the sources. Images build it ahead (`npm run build` in this
// workspace) and never rebuild here: production has no Vite and a read-only
// file system.
//
// Builds go to a private directory that is then renamed into place, so two
// gateways starting together (tests) never serve a half-written dist/.
import { existsSync } from "node:fs";
import { readdir, rename, rm, stat } from "node:fs/promises";
import path from "node:path";
import { fileURLToPath } from "node:url";
import type { Logger } from "@shop/runtime/log";

export const WEB_DIR = fileURLToPath(new URL("../web/", import.meta.url));
export const DIST_DIR = path.join(WEB_DIR, "dist");

export interface WebBuildOptions {
  logger: Logger;
  /** Serve whatever is built (or fail if nothing is) instead of rebuilding stale output. */
  production: boolean;
  webDir?: string;
}

/** Resolves with the directory to serve. */
export async function ensureWebBuild(options: WebBuildOptions): Promise<string> {
  const webDir = options.webDir ?? WEB_DIR;
  const distDir = path.join(webDir, "dist");
  const index = path.join(distDir, "index.html");
  const built = existsSync(index);
  if (built && options.production) return distDir;
  if (built && (await newestSourceTime(webDir)) <= (await stat(index)).mtimeMs) return distDir;

  let vite: typeof import("vite");
  try {
    vite = await import("vite");
  } catch {
    if (built) {
      options.logger.warn(
        { distDir },
        "the web app's sources changed but Vite is not installed: serving the old build",
      );
      return distDir;
    }
    throw new Error(
      `the web app is not built (${index} is missing) and Vite is not installed: run \`npm run build -w services/gateway\``,
    );
  }

  const started = Date.now();
  options.logger.info({ webDir }, built ? "web app sources changed: rebuilding" : "building the web app");
  const outDir = path.join(webDir, `.dist-${process.pid}-${Date.now().toString(36)}`);
  try {
    await vite.build({
      configFile: path.join(webDir, "vite.config.ts"),
      root: webDir,
      logLevel: "warn",
      build: { outDir, emptyOutDir: true },
    });
    await swapInto(outDir, distDir);
  } finally {
    await rm(outDir, { recursive: true, force: true });
  }
  options.logger.info({ distDir, durationMs: Date.now() - started }, "web app built");
  return distDir;
}

/** Replaces `target` with `fresh`; if another process put a build there first, keeps theirs. */
async function swapInto(fresh: string, target: string): Promise<void> {
  const old = `${fresh}-old`;
  const moved = await rename(target, old).then(
    () => true,
    () => false,
  );
  try {
    await rename(fresh, target);
  } catch (err) {
    // Another gateway's build landed in between: equally fresh, serve that.
    if (!existsSync(path.join(target, "index.html"))) throw err;
  } finally {
    if (moved) await rm(old, { recursive: true, force: true });
  }
}

/** Latest modification among the app's sources (not dist/, not build directories, not dotfiles). */
async function newestSourceTime(dir: string): Promise<number> {
  let newest = 0;
  for (const entry of await readdir(dir, { withFileTypes: true })) {
    if (entry.name.startsWith(".") || entry.name === "dist" || entry.name === "node_modules") continue;
    const full = path.join(dir, entry.name);
    const time = entry.isDirectory() ? await newestSourceTime(full) : (await stat(full)).mtimeMs;
    newest = Math.max(newest, time);
  }
  return newest;
}
