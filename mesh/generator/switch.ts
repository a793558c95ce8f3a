// npm run mesh:switch -- <service> up | down | blue | green  [--apply <overlay>]
//
// Blue-green releases (mesh/releases.json, strategy "blue-green"):
//   up      bring the idle colour to full size; it is reachable with `x-preview: <colour>`
//   green   make green live: every request and every event, in one apply (blue stays up for rollback)
//   blue    the same for blue (a rollback is switching back)
//   down    scale the idle colour to zero
// Each edits mesh/releases.json and regenerates mesh/; Tilt re-applies by
// itself, otherwise `--apply dev|prod` runs `kubectl apply -k mesh/overlays/<overlay>`.
import { execFileSync } from "node:child_process";
import { writeFileSync } from "node:fs";
import { join } from "node:path";
import { loadManifests, repoRoot } from "./contracts.ts";
import { generateMesh } from "./generate.ts";
import { findDrift } from "./main.ts";
import { otherColour, readReleasePlan, RELEASES_FILE, renderReleasePlan, type ReleasePlan } from "./releases.ts";

export type SwitchAction = "up" | "down" | "blue" | "green";

export class SwitchError extends Error {
  override name = "SwitchError";
}

/** The plan after `action` on `service`; throws SwitchError saying why it cannot be done. */
export function switchRelease(plan: ReleasePlan, service: string, action: SwitchAction): ReleasePlan {
  const release = plan[service];
  if (!release || release.strategy !== "blue-green") {
    throw new SwitchError(
      `${service} is not released blue-green (${RELEASES_FILE}: give it {"strategy": "blue-green", "live": "blue", "idle": "down"})`,
    );
  }
  const idle = otherColour(release.live);
  switch (action) {
    case "up":
      return { ...plan, [service]: { ...release, idle: "up" } };
    case "down":
      return { ...plan, [service]: { ...release, idle: "down" } };
    case "blue":
    case "green":
      if (action === release.live) throw new SwitchError(`${action} is already live for ${service}`);
      if (release.idle !== "up")
        throw new SwitchError(
          `${idle} is not running: bring it up first (npm run mesh:switch -- ${service} up), test it with x-preview: ${idle}`,
        );
      // The old live colour stays up, idle: switching back is the rollback.
      return { ...plan, [service]: { strategy: "blue-green", live: action, idle: "up" } };
  }
}

async function main(): Promise<void> {
  const args = process.argv.slice(2);
  const [service, action] = [args.at(0), args.at(1)];
  const rest = args.slice(2);
  const applyAt = rest.indexOf("--apply");
  const overlay = applyAt >= 0 ? rest[applyAt + 1] : undefined;
  if (!service || !["up", "down", "blue", "green"].includes(action ?? "") || (applyAt >= 0 && !overlay)) {
    console.error("usage: npm run mesh:switch -- <service> up|down|blue|green [--apply dev|prod]");
    process.exit(2);
  }
  const manifests = await loadManifests();
  if (!manifests.some((m) => m.name === service)) {
    console.error(`no such service: ${service}`);
    process.exit(2);
  }
  let next: ReleasePlan;
  try {
    next = switchRelease(readReleasePlan(), service, action as SwitchAction);
  } catch (err) {
    if (!(err instanceof SwitchError)) throw err;
    console.error(err.message);
    process.exit(1);
  }
  const files = generateMesh(manifests, next);
  writeFileSync(join(repoRoot, RELEASES_FILE), renderReleasePlan(next));
  const changed = findDrift(files).filter((d) => d.problem !== "unexpected");
  for (const { path, content } of changed) writeFileSync(join(repoRoot, path), content);
  console.log(
    `${RELEASES_FILE}: ${service} ${JSON.stringify(next[service])}; regenerated ${changed.map((d) => d.path).join(", ")}`,
  );
  if (overlay) {
    execFileSync("kubectl", ["apply", "-k", `mesh/overlays/${overlay}`], { cwd: repoRoot, stdio: "inherit" });
  } else {
    console.log("apply with: kubectl apply -k mesh/overlays/<dev|prod>   (under Tilt this happens by itself)");
  }
}

if (import.meta.url === `file://${process.argv[1]}`) await main();
