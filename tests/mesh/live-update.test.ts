// Tilt's live update, reproduced on this machine: what the Tiltfile declares
// for an image (its syncs and run step) applied the way Tilt applies them to
// a running container, against the command the dev overlay's Deployment runs.
//
// How Tilt does it (tilt-dev/tilt, internal/containerupdate/exec_updater.go
// and internal/build/tar.go): it writes the changed files into a tar stream,
// each entry named by its container path relative to /, uid and gid 0, the
// local file's mode, and pipes it into `tar -C / -x -f -` in the container;
// then it runs each run() step there. GNU tar extracts a file that already
// exists by unlinking it and creating a new one (a new inode), which is why
// `node --watch` on Linux, watching the inode it loaded, restarts on the
// first sync only. Here "/" is a scratch directory, the "image" is what the
// Dockerfile's dev stage puts there, and the bundle is a small stand-in that
// prints which version of it is running.
import { type ChildProcess, execFileSync, spawn } from "node:child_process";
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { dirname, join } from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { eventually } from "../support/eventually.ts";
import { type Any, render } from "./fixtures.ts";
import { evaluateTiltfile } from "./tilt/tiltfile.ts";

const SERVICE = "catalog";
const root = mkdtempSync(join(tmpdir(), "live-update-"));
const staging = mkdtempSync(join(tmpdir(), "live-update-src-"));
let pod: ChildProcess | undefined;

afterAll(() => {
  // `node --watch` runs the service in a child of its own: SIGKILL to the
  // watcher alone would leave that child running, so the whole group goes.
  try {
    if (pod?.pid !== undefined) process.kill(-pod.pid, "SIGKILL");
  } catch {
    // ESRCH: the group is gone already.
  }
  rmSync(root, { recursive: true, force: true });
  rmSync(staging, { recursive: true, force: true });
});

const bundle = (generation: number) =>
  `console.log("generation ${generation}"); process.on("SIGTERM", () => process.exit(0)); setInterval(() => {}, 1000);\n`;

/** A changed local file, the way Tilt ships it: a tar entry named by its container path. */
function syncFile(containerPath: string, contents: string): void {
  const relative = containerPath.replace(/^\//, "");
  mkdirSync(dirname(join(staging, relative)), { recursive: true });
  writeFileSync(join(staging, relative), contents);
  const archive = execFileSync("tar", [
    "-C",
    staging,
    "--owner=0",
    "--group=0",
    "--numeric-owner",
    "-c",
    "-f",
    "-",
    relative,
  ]);
  execFileSync("tar", ["-C", root, "-x", "-f", "-"], { input: archive });
}

/** A run() step: its command in the container's shell, with the container's / mapped to the scratch root. */
function runStep(cmd: string): void {
  execFileSync("sh", ["-c", cmd.replaceAll(" /app/", ` ${root}/app/`)]);
}

describe("Tilt live update against the dev Deployment's command", () => {
  it("restarts the service on every one of several successive syncs", async () => {
    const build = evaluateTiltfile().docker_build.find((b) => b.kwargs.build_args.SERVICE === SERVICE)!;
    const steps: Any[] = build.kwargs.live_update;
    const dist = steps.find((s) => s.step === "sync" && s.local === `services/${SERVICE}/dist`);
    const run = steps.filter((s) => s.step === "run");
    expect(dist).toBeDefined();
    expect(run).toHaveLength(1);

    // The image: the dev stage's files, and its restart trigger.
    const app = join(root, "app");
    mkdirSync(join(app, "services", SERVICE, "dist"), { recursive: true });
    writeFileSync(join(app, ".live-update"), "");
    writeFileSync(join(app, "services", SERVICE, "dist", "main.js"), bundle(0));
    writeFileSync(join(app, "services", SERVICE, "package.json"), '{"type":"module"}\n');

    const deployment = (render("mesh/overlays/dev") as Any[]).find(
      (r) => r.kind === "Deployment" && r.metadata.name === `${SERVICE}-v1`,
    );
    const [command, ...args] = deployment.spec.template.spec.containers[0].command as string[];
    expect(command).toBe("node");
    const output: string[] = [];
    pod = spawn(process.execPath, args, { cwd: app, stdio: ["ignore", "pipe", "pipe"], detached: true });
    pod.stdout!.on("data", (chunk: Buffer) => output.push(chunk.toString()));
    pod.stderr!.on("data", (chunk: Buffer) => output.push(chunk.toString()));
    const running = (generation: number) =>
      eventually(`generation ${generation} running`, () =>
        output.join("").includes(`generation ${generation}\n`) ? true : undefined,
      );
    await running(0);

    for (const generation of [1, 2, 3, 4]) {
      syncFile(`${dist.remote}/main.js`, bundle(generation));
      for (const step of run) runStep(step.cmd);
      await running(generation);
    }
    expect(output.join("").match(/generation \d/g)).toEqual([
      "generation 0",
      "generation 1",
      "generation 2",
      "generation 3",
      "generation 4",
    ]);
  }, 60_000);
});
