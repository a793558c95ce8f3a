// `docker build` emulated without a Docker engine, so that what an image
// holds is derived from the Dockerfile itself: every stage's instructions are
// carried out in a scratch directory standing for that stage's "/", files
// come into it only through its COPY/ADD lines (from the build context, minus
// .dockerignore, or from an earlier stage), and its RUN lines run there. What
// comes out is the target stage's filesystem, environment, working directory,
// user and command: the image.
//
// As BuildKit does, builds share what they have in common: several builds
// (one per SERVICE, say) go through each stage together, an instruction is
// carried out once for all builds whose inputs to it are the same (the
// instruction after variable expansion; for a COPY, the digest of what it
// copies; for a RUN, the build arguments in scope), and the builds part ways
// (each in its own copy of the directory) where their inputs differ.
//
// What stands in for what:
//   - FROM an image (node:24-slim) starts from an empty directory: the base
//     image's own files are not there, and commands come from this machine
//     (sh, cp, find, and the Node 24 running the tests first on PATH).
//   - RUN runs `sh -c` (or the exec form's argv) in the stage's working
//     directory, as BUILD_UID, which stands for the build's root and owns the
//     stage directory. Absolute paths in the command that are not the base
//     image's system directories (/app, /src, /out, /root, /tmp, ...) are
//     rewritten into the stage directory. Running unprivileged means a path
//     the rewrite missed cannot touch this machine: the RUN fails instead.
//   - `RUN npm ci` installs nothing from the registry: it checks that the
//     stage holds exactly the manifests this checkout was installed from (the
//     lock file and every workspace's package.json), links the checkout's
//     installed packages into the stage's node_modules (workspace packages
//     link to the stage's own folders, as npm links them), then runs the root
//     package's install scripts (postinstall) in the stage, as npm ci does.
//   - Files COPY puts in are owned by the stage's root unless --chown says
//     otherwise; the exported image has them owned by 0:0, as Docker does.
//   - Not emulated (refused with an error naming the instruction): wildcards
//     in COPY sources, ADD of URLs and archives, COPY --chmod/--parents/
//     --exclude, heredocs, SHELL and ONBUILD.
import { execFile, spawn } from "node:child_process";
import { createHash } from "node:crypto";
import { existsSync } from "node:fs";
import {
  chmod,
  chown,
  lchown,
  lstat,
  mkdir,
  readdir,
  readFile,
  readlink,
  rm,
  symlink,
  writeFile,
} from "node:fs/promises";
import path from "node:path";
import { promisify } from "node:util";
import type { BuildContext, ContextEntry } from "./context.ts";
import { flagValue, type Instruction, type ParsedDockerfile, type Stage } from "./dockerfile.ts";

const run = promisify(execFile);

/** Who RUN steps run as: an unprivileged uid standing for the build's root (not 1000, the image's user). */
export const BUILD_UID = 64_123;

/** Top-level directories of the base image that RUN commands use from this machine (everything else is the stage's). */
const SYSTEM_DIRS = ["bin", "dev", "etc", "lib", "lib32", "lib64", "libx32", "proc", "sbin", "sys", "usr", "var"];
const DEFAULT_PATH = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin";

export interface BuildRequest {
  /** Names the build in messages. */
  name: string;
  /** The stage to build (`docker build --target`). */
  target: string;
  /** `--build-arg`s. */
  buildArgs: Record<string, string>;
  context: BuildContext;
}

/** A built image: its filesystem (a directory standing for "/") and its configuration. */
export interface Image {
  root: string;
  env: Record<string, string>;
  /** Container path. */
  workdir: string;
  user: string | undefined;
  cmd: string[] | undefined;
}

/** A build step that failed, with the Dockerfile line and what it printed. */
export class BuildError extends Error {
  override name = "BuildError";
}

export interface BuildOptions {
  /** Where the stage directories go (removed by the caller); BUILD_UID and the image's user must reach it. */
  scratch: string;
  /** The checkout whose installed node_modules stands for `npm ci` (its package-lock.json must match the image's). */
  installedCheckout: string;
  /** How many RUN steps run at once. */
  parallelism: number;
}

interface Build {
  resolve(image: Image): void;
  reject(err: Error): void;
  failed: boolean;
  /** The stages this build needs, by index. */
  needs: Set<number>;
  /** The final state of each stage it built, by index. */
  finals: Map<number, State>;
}

interface State {
  dir: string;
  workdir: string;
  env: Map<string, string>;
  args: Map<string, string>;
  user: string | undefined;
  cmd: string[] | undefined;
  /** Another state uses the same directory: copy it before changing it. */
  shared: boolean;
}

const METADATA = new Set(["ARG", "ENV", "USER", "CMD", "ENTRYPOINT", "LABEL", "EXPOSE", "STOPSIGNAL", "HEALTHCHECK"]);

/**
 * Builds every request, sharing the work their stages have in common. Each
 * request's image is ready when its promise resolves; a request whose build
 * fails rejects with a BuildError.
 */
export function buildImages(
  dockerfile: ParsedDockerfile,
  requests: readonly BuildRequest[],
  options: BuildOptions,
): Map<string, Promise<Image>> {
  return new ImageBuilds(dockerfile, requests, options).results;
}

class ImageBuilds {
  readonly results = new Map<string, Promise<Image>>();
  readonly #builds = new Map<BuildRequest, Build>();
  readonly #runSlots: Semaphore;
  readonly #digests = new Map<string, Promise<string>>();
  readonly #exports = new Map<string, Promise<void>>();
  #dirs = 0;

  constructor(
    readonly dockerfile: ParsedDockerfile,
    readonly requests: readonly BuildRequest[],
    readonly options: BuildOptions,
  ) {
    this.#runSlots = new Semaphore(options.parallelism);
    for (const request of requests) {
      const { promise, resolve, reject } = Promise.withResolvers<Image>();
      promise.catch(() => {}); // observed by whoever awaits it
      this.results.set(request.name, promise);
      this.#builds.set(request, { resolve, reject, failed: false, finals: new Map(), needs: new Set() });
    }
    void this.#buildAll().catch((err: unknown) => {
      for (const request of requests) this.#fail([request], err);
    });
  }

  async #buildAll(): Promise<void> {
    await mkdir(this.options.scratch, { recursive: true });
    for (const request of this.requests) this.#build(request).needs = this.#stagesNeeded(request);
    for (const [index, stage] of this.dockerfile.stages.entries()) {
      const users = this.requests.filter((r) => !this.#build(r).failed && this.#build(r).needs.has(index));
      // Builds starting from the same image, or from the same state of an earlier stage, start together.
      const starts = new Map<string | State, BuildRequest[]>();
      for (const request of users) {
        const origin = this.#stageIndex(this.#expandGlobal(stage.from, request));
        const key =
          origin === undefined ? `image ${this.#expandGlobal(stage.from, request)}` : this.#final(request, origin);
        starts.set(key, [...(starts.get(key) ?? []), request]);
      }
      await Promise.all(
        [...starts].map(async ([origin, group]) => {
          try {
            const initial = typeof origin === "string" ? await this.#emptyState() : await this.#copyState(origin);
            await this.#continue(index, stage, 0, initial, group);
          } catch (err) {
            this.#fail(group, this.#describe(group, stage, undefined, err));
          }
        }),
      );
    }
    for (const request of this.requests) {
      if (this.#build(request).failed) continue;
      try {
        const final = this.#final(request, this.#targetIndex(request));
        await this.#export(final.dir);
        this.#build(request).resolve({
          root: final.dir,
          env: Object.fromEntries(final.env),
          workdir: final.workdir,
          user: final.user,
          cmd: final.cmd,
        });
      } catch (err) {
        this.#fail([request], err);
      }
    }
  }

  /** Carries out instructions[i..] of a stage for a group of builds in one state, splitting where their inputs differ. */
  async #continue(index: number, stage: Stage, i: number, state: State, group: BuildRequest[]): Promise<void> {
    if (i === stage.instructions.length) {
      for (const request of group) this.#build(request).finals.set(index, state);
      return;
    }
    const instruction = stage.instructions[i];
    const branches = new Map<string, BuildRequest[]>();
    for (const request of group) {
      let key: string;
      try {
        key = await this.#inputsOf(instruction, state, request);
      } catch (err) {
        this.#fail([request], this.#describe([request], stage, instruction, err));
        continue;
      }
      branches.set(key, [...(branches.get(key) ?? []), request]);
    }
    const split = branches.size > 1;
    await Promise.all(
      [...branches.values()].map(async (branch) => {
        let next: State;
        try {
          next = await this.#apply(instruction, state, branch[0], split);
        } catch (err) {
          this.#fail(branch, this.#describe(branch, stage, instruction, err));
          return;
        }
        await this.#continue(index, stage, i + 1, next, branch);
      }),
    );
  }

  /** What an instruction's result depends on, beyond the state it starts from. */
  async #inputsOf(instruction: Instruction, state: State, request: BuildRequest): Promise<string> {
    const vars = variables(state);
    const expanded = expand(instruction.text, vars);
    switch (instruction.keyword) {
      case "ARG":
        return `ARG ${instruction.properties.map((p) => `${p.name}=${this.#argValue(p.name, p.value, state, request) ?? ""}`).join(" ")}`;
      case "RUN":
        // Not expanded by the builder (the shell does that); the build arguments it sees are the state's.
        return `RUN ${instruction.text}`;
      case "COPY":
      case "ADD": {
        const { from, sources } = copyOperands(instruction, vars);
        const digests = await Promise.all(
          sources.map((source) =>
            from === undefined
              ? this.#digest(`context ${contextId(request.context)} ${source}`, () =>
                  request.context.digest(contextPath(source)),
                )
              : this.#digest(`tree ${this.#sourceDir(request, from, source)}`, () =>
                  treeDigest(this.#sourceDir(request, from, source)),
                ),
          ),
        );
        return `${instruction.keyword} ${expanded}\0${digests.join("\0")}`;
      }
      default:
        return `${instruction.keyword} ${expanded}`;
    }
  }

  async #apply(instruction: Instruction, state: State, request: BuildRequest, split: boolean): Promise<State> {
    const vars = variables(state);
    if (METADATA.has(instruction.keyword)) {
      const next: State = {
        ...state,
        env: new Map(state.env),
        args: new Map(state.args),
        shared: state.shared || split,
      };
      switch (instruction.keyword) {
        case "ARG":
          for (const p of instruction.properties) {
            const value = this.#argValue(p.name, p.value, state, request);
            if (value !== undefined) next.args.set(p.name, value);
          }
          break;
        case "ENV":
          for (const p of instruction.properties) next.env.set(p.name, expand(p.value ?? "", vars));
          break;
        case "USER":
          next.user = expand(instruction.command, vars).trim();
          break;
        case "CMD":
          next.cmd = instruction.json ?? ["/bin/sh", "-c", instruction.command];
          break;
        case "ENTRYPOINT":
          throw new BuildError("ENTRYPOINT is not emulated (the Deployments set the command)");
      }
      return next;
    }
    const dir = state.shared || split ? await this.#copyDir(state.dir) : state.dir;
    const next: State = { ...state, dir, shared: false };
    switch (instruction.keyword) {
      case "WORKDIR":
        next.workdir = path.posix.resolve(state.workdir, expand(instruction.command.trim(), vars));
        await this.#ensureDir(dir, next.workdir);
        return next;
      case "COPY":
      case "ADD":
        await this.#copy(instruction, next, request);
        return next;
      case "RUN":
        await this.#run(instruction, next);
        return next;
      default:
        throw new BuildError(`${instruction.keyword} is not emulated`);
    }
  }

  // --- COPY / ADD ---------------------------------------------------------

  async #copy(instruction: Instruction, state: State, request: BuildRequest): Promise<void> {
    for (const flag of instruction.flags) {
      if (!["from", "chown", "link"].includes(flag.name))
        throw new BuildError(`${instruction.keyword} --${flag.name} is not emulated`);
    }
    const vars = variables(state);
    const { from, sources, destination } = copyOperands(instruction, vars);
    const owner = ownerOf(flagValue(instruction, "chown"));
    const target = path.posix.resolve(state.workdir, destination);
    const intoDirectory = destination.endsWith("/") || sources.length > 1;
    for (const source of sources) {
      if (/[*?[]/.test(source)) throw new BuildError(`wildcards in ${instruction.keyword} sources are not emulated`);
      if (instruction.keyword === "ADD" && (/^[a-z]+:\/\//i.test(source) || /\.(tar|tgz|gz|bz2|xz|zst)$/.test(source)))
        throw new BuildError("ADD of URLs and archives is not emulated");
      let entries: ContextEntry[];
      let base: string;
      if (from === undefined) {
        base = contextPath(source);
        if (base.startsWith("..")) throw new BuildError(`${source} is outside the build context`);
        entries = await request.context.under(base);
        if (entries.length === 0)
          throw new BuildError(
            `${source}: not found in the build context (missing from ${request.context.root}, or excluded by .dockerignore)`,
          );
      } else {
        const dir = this.#sourceDir(request, from, source);
        base = ".";
        entries = await treeEntries(dir);
        if (entries.length === 0) throw new BuildError(`${source}: not found in stage ${from}`);
      }
      const top = entries.find((e) => e.path === base);
      const isDirectory = (from === undefined && base === ".") || top?.type === "directory";
      const name = path.posix.basename(source.replace(/\/+$/, ""));
      const hostTarget = path.join(state.dir, target);
      const destinationIsDirectory =
        intoDirectory || (existsSync(hostTarget) && (await lstat(hostTarget)).isDirectory());
      await this.#ensureDir(state.dir, isDirectory || destinationIsDirectory ? target : path.posix.dirname(target));
      for (const entry of entries) {
        const relative = isDirectory ? path.posix.relative(base, entry.path) : destinationIsDirectory ? name : "";
        const file = path.join(hostTarget, relative);
        if (entry.type === "directory") {
          if (relative === "") continue;
          await mkdir(file, { recursive: true, mode: entry.mode });
          await chmod(file, entry.mode);
        } else if (entry.type === "symlink") {
          await rm(file, { force: true });
          await symlink((await entry.read()).toString(), file);
        } else {
          await writeFile(file, await entry.read(), { mode: entry.mode });
          await chmod(file, entry.mode);
        }
        await lchown(file, owner.uid, owner.gid);
      }
    }
  }

  /** The host directory of `source` (a container path) in the final state of stage `from`. */
  #sourceDir(request: BuildRequest, from: string, source: string): string {
    const index = this.#stageIndex(from);
    if (index === undefined) throw new BuildError(`COPY --from=${from}: only earlier stages are emulated, not images`);
    return path.join(this.#final(request, index).dir, path.posix.resolve("/", source));
  }

  // --- RUN ----------------------------------------------------------------

  async #run(instruction: Instruction, state: State): Promise<void> {
    for (const flag of instruction.flags) {
      // A cache mount only speeds up what it caches.
      if (flag.name !== "mount" || !flag.value?.startsWith("type=cache,"))
        throw new BuildError(`RUN --${flag.name}=${flag.value ?? ""} is not emulated`);
    }
    const command = instruction.command.trim();
    if (/\bnpm (ci|install|i)\b/.test(command)) {
      if (command !== "npm ci" || instruction.json) throw new BuildError("only a plain `RUN npm ci` is emulated");
      await this.#npmCi(state);
      return;
    }
    const argv = instruction.json?.map((a) => rewritePaths(a, state.dir)) ?? [
      "/bin/sh",
      "-c",
      rewritePaths(instruction.command, state.dir),
    ];
    await this.#exec(argv, state);
  }

  /** Runs argv in the stage (its working directory, environment and build arguments) as BUILD_UID. */
  async #exec(argv: string[], state: State): Promise<void> {
    const home = await this.#ensureDir(state.dir, "/root");
    const tmp = await this.#ensureDir(state.dir, "/tmp");
    await chmod(tmp, 0o1777);
    const cwd = await this.#ensureDir(state.dir, state.workdir);
    const env: Record<string, string> = {
      PATH: `${path.dirname(process.execPath)}:${DEFAULT_PATH}`,
      HOME: home,
      TMPDIR: tmp,
      ...Object.fromEntries(state.args),
      ...Object.fromEntries([...state.env].map(([k, v]) => [k, rewritePaths(v, state.dir)])),
    };
    const release = await this.#runSlots.acquire();
    try {
      const output: string[] = [];
      const code = await new Promise<number | string>((resolve, reject) => {
        const child = spawn(argv[0], argv.slice(1), {
          cwd,
          env,
          uid: BUILD_UID,
          gid: BUILD_UID,
          stdio: ["ignore", "pipe", "pipe"],
        });
        const keep = (chunk: Buffer) => output.push(chunk.toString());
        child.stdout.on("data", keep);
        child.stderr.on("data", keep);
        child.once("error", reject);
        child.once("close", (exitCode, signal) => {
          resolve(exitCode ?? signal ?? "?");
        });
      });
      if (code !== 0) {
        const text = output.join("");
        throw new BuildError(`exited with ${String(code)}; its output ends:\n${text.slice(-6000)}`, {
          cause: { output: text },
        });
      }
    } finally {
      release();
    }
  }

  async #npmCi(state: State): Promise<void> {
    const workdir = path.join(state.dir, state.workdir);
    const checkout = this.options.installedCheckout;
    const same = async (relative: string) => {
      const [mine, theirs] = await Promise.all([
        readFile(path.join(workdir, relative)).catch(() => undefined),
        readFile(path.join(checkout, relative)),
      ]);
      if (!mine) throw new BuildError(`npm ci: ${relative} is not in the image (the lock file lists it)`);
      if (!mine.equals(theirs))
        throw new BuildError(`npm ci: the image's ${relative} differs from the one this checkout was installed from`);
    };
    await same("package-lock.json");
    await same("package.json");
    const lock = JSON.parse(await readFile(path.join(checkout, "package-lock.json"), "utf8")) as {
      packages: Record<string, { link?: boolean }>;
    };
    const workspaces = Object.keys(lock.packages).filter((key) => key !== "" && !key.includes("node_modules/"));
    await Promise.all(workspaces.map((workspace) => same(`${workspace}/package.json`)));
    for (const folder of ["", ...workspaces]) {
      const installed = path.join(checkout, folder, "node_modules");
      if (existsSync(installed)) await linkModules(installed, path.join(workdir, folder, "node_modules"));
    }
    const manifest = JSON.parse(await readFile(path.join(workdir, "package.json"), "utf8")) as {
      scripts?: Record<string, string>;
    };
    for (const script of ["preinstall", "install", "postinstall", "prepare"]) {
      if (manifest.scripts?.[script]) await this.#exec(["npm", "run", "--silent", script], state);
    }
  }

  // --- states and directories ----------------------------------------------

  async #emptyState(): Promise<State> {
    const dir = path.join(this.options.scratch, `layer-${String(++this.#dirs)}`);
    await mkdir(dir);
    await chown(dir, BUILD_UID, BUILD_UID);
    return { dir, workdir: "/", env: new Map(), args: new Map(), user: undefined, cmd: undefined, shared: false };
  }

  async #copyState(state: State): Promise<State> {
    return { ...state, env: new Map(state.env), args: new Map(), dir: await this.#copyDir(state.dir), shared: false };
  }

  async #copyDir(dir: string): Promise<string> {
    const copy = path.join(this.options.scratch, `layer-${String(++this.#dirs)}`);
    await run("cp", ["-a", "--", dir, copy]);
    return copy;
  }

  /** mkdir -p of a container path in a stage directory, new directories owned by the stage's root. */
  async #ensureDir(dir: string, containerPath: string): Promise<string> {
    let current = dir;
    for (const part of path.posix.resolve("/", containerPath).split("/").filter(Boolean)) {
      current = path.join(current, part);
      if (!existsSync(current)) {
        await mkdir(current, { mode: 0o755 });
        await chown(current, BUILD_UID, BUILD_UID);
      }
    }
    return current;
  }

  /** Files owned by the stage's root become root's, as in an image. */
  #export(dir: string): Promise<void> {
    let done = this.#exports.get(dir);
    if (!done) {
      done = (async () => {
        const stats = await lstat(dir);
        if (stats.uid === BUILD_UID) await lchown(dir, 0, stats.gid === BUILD_UID ? 0 : stats.gid);
        for (const entry of await readdir(dir, { recursive: true, withFileTypes: true })) {
          const file = path.join(entry.parentPath, entry.name);
          const s = await lstat(file);
          if (s.uid === BUILD_UID || s.gid === BUILD_UID)
            await lchown(file, s.uid === BUILD_UID ? 0 : s.uid, s.gid === BUILD_UID ? 0 : s.gid);
        }
      })();
      this.#exports.set(dir, done);
    }
    return done;
  }

  #digest(key: string, compute: () => Promise<string>): Promise<string> {
    let digest = this.#digests.get(key);
    if (!digest) this.#digests.set(key, (digest = compute()));
    return digest;
  }

  // --- stages ---------------------------------------------------------------

  #stageIndex(reference: string): number | undefined {
    const byName = this.dockerfile.stages.findIndex((s) => s.name === reference);
    if (byName >= 0) return byName;
    return /^\d+$/.test(reference) && Number(reference) < this.dockerfile.stages.length ? Number(reference) : undefined;
  }

  #targetIndex(request: BuildRequest): number {
    const index = this.#stageIndex(request.target);
    if (index === undefined) throw new BuildError(`${request.name}: the Dockerfile has no stage ${request.target}`);
    return index;
  }

  #final(request: BuildRequest, index: number): State {
    const state = this.#build(request).finals.get(index);
    if (!state) throw new BuildError(`stage ${this.dockerfile.stages[index].name ?? String(index)} was not built`);
    return state;
  }

  /** The stages a target needs: itself, what it starts FROM, and what it COPYs --from, transitively. */
  #stagesNeeded(request: BuildRequest): Set<number> {
    const needed = new Set<number>();
    const visit = (index: number) => {
      if (needed.has(index)) return;
      needed.add(index);
      const stage = this.dockerfile.stages[index];
      const from = this.#stageIndex(this.#expandGlobal(stage.from, request));
      if (from !== undefined) visit(from);
      for (const i of stage.instructions) {
        const source = flagValue(i, "from");
        const index = source === undefined ? undefined : this.#stageIndex(source);
        if (index !== undefined) visit(index);
      }
    };
    visit(this.#targetIndex(request));
    return needed;
  }

  #expandGlobal(text: string, request: BuildRequest): string {
    const vars = new Map<string, string>();
    for (const arg of this.dockerfile.globalArgs) {
      const value = arg.name in request.buildArgs ? request.buildArgs[arg.name] : arg.value;
      if (value !== null) vars.set(arg.name, value);
    }
    return expand(text, vars);
  }

  /** An ARG's value: the build argument, else its default, else (redeclared in a stage) the global ARG's. */
  #argValue(name: string, declared: string | null, state: State, request: BuildRequest): string | undefined {
    if (name in request.buildArgs) return request.buildArgs[name];
    if (declared !== null) return expand(declared, variables(state));
    return this.dockerfile.globalArgs.find((a) => a.name === name)?.value ?? undefined;
  }

  #describe(group: BuildRequest[], stage: Stage, instruction: Instruction | undefined, err: unknown): BuildError {
    const message = err instanceof Error ? err.message : String(err);
    const where = instruction
      ? `Dockerfile line ${String(instruction.line)}, stage ${stage.name ?? "?"}: ${instruction.keyword} ${instruction.text}`
      : `Dockerfile line ${String(stage.line)}: FROM ${stage.from}`;
    const output = (err instanceof Error && (err.cause as { output?: string } | undefined)?.output) || "";
    const hints = unresolvedImports(output).map((hint) => `\n${hint}`);
    return new BuildError(`${group.map((r) => r.name).join(", ")}: ${where}${hints.join("")}\n${message}`);
  }

  #fail(group: BuildRequest[], err: unknown): void {
    for (const request of group) {
      const build = this.#build(request);
      if (build.failed) continue;
      build.failed = true;
      build.reject(err instanceof Error ? err : new Error(String(err)));
    }
  }

  #build(request: BuildRequest): Build {
    const build = this.#builds.get(request);
    if (!build) throw new Error(`unknown build ${request.name}`);
    return build;
  }
}

/** esbuild's "Could not resolve" errors, restated as what they mean for an image. */
function unresolvedImports(output: string): string[] {
  const hints = new Set<string>();
  const found = [
    ...[...output.matchAll(/Could not resolve "([^"]+)"\s+(\S+?):\d+:\d+:/g)].map((m) => [m[2], m[1]]),
    ...[...output.matchAll(/(\S+?):\d+:\d+: ERROR: Could not resolve "([^"]+)"/g)].map((m) => [m[1], m[2]]),
  ];
  for (const [importer, specifier] of found) {
    hints.add(
      `${importer} imports ${specifier}, which is not in this image's build context ` +
        "(an image holds only what the Dockerfile's COPY lines take from the context, minus .dockerignore)",
    );
  }
  return [...hints];
}

function copyOperands(
  instruction: Instruction,
  vars: Map<string, string>,
): { from: string | undefined; sources: string[]; destination: string } {
  const words = (instruction.json ?? instruction.args).map((w) => expand(w, vars));
  if (words.length < 2) throw new BuildError(`${instruction.keyword} needs a source and a destination`);
  const from = flagValue(instruction, "from");
  return {
    from: from === undefined ? undefined : expand(from, vars),
    sources: words.slice(0, -1),
    destination: words[words.length - 1],
  };
}

/** A COPY source as a path relative to the context root. */
const contextPath = (source: string) => path.posix.normalize(source.replace(/^\/+/, "")).replace(/\/$/, "") || ".";

const contextIds = new WeakMap<BuildContext, string>();
let contexts = 0;
function contextId(context: BuildContext): string {
  let id = contextIds.get(context);
  if (!id) contextIds.set(context, (id = String(++contexts)));
  return id;
}

function ownerOf(chownFlag: string | undefined): { uid: number; gid: number } {
  if (chownFlag === undefined) return { uid: BUILD_UID, gid: BUILD_UID };
  const [user, group = user] = chownFlag.split(":");
  if (!/^\d+$/.test(user) || !/^\d+$/.test(group))
    throw new BuildError(`--chown=${chownFlag}: only numeric ids are emulated`);
  const map = (id: number) => (id === 0 ? BUILD_UID : id);
  return { uid: map(Number(user)), gid: map(Number(group)) };
}

/** The ARGs and ENVs an instruction can refer to (ENV wins, as in Docker). */
function variables(state: State): Map<string, string> {
  return new Map([...state.args, ...state.env]);
}

/** Docker's variable substitution: $NAME, ${NAME}, ${NAME:-word}, ${NAME:+word}; `\$` is a literal $. */
export function expand(text: string, vars: ReadonlyMap<string, string>): string {
  return text.replace(
    /\\\$|\$\{([A-Za-z_][A-Za-z0-9_]*)(?::([-+])([^}]*))?\}|\$([A-Za-z_][A-Za-z0-9_]*)/g,
    (
      whole,
      braced: string | undefined,
      operator: string | undefined,
      word: string | undefined,
      bare: string | undefined,
    ) => {
      if (whole === "\\$") return "$";
      const value = vars.get(braced ?? bare ?? "");
      if (operator === "-") return value ? value : (word ?? "");
      if (operator === "+") return value ? (word ?? "") : "";
      return value ?? "";
    },
  );
}

/** Absolute container paths in a command, outside the base image's system directories, mapped into the stage directory. */
export function rewritePaths(command: string, stageDir: string): string {
  const system = SYSTEM_DIRS.join("|");
  return command.replace(
    new RegExp(`(^|[\\s"'=<>|;&(){}])/(?!(?:${system})(?:/|$|[\\s"';&|)]))`, "g"),
    (_, before: string) => `${before}${stageDir}/`,
  );
}

/** Links a checkout's installed packages into a stage: packages by absolute path, npm's own links (workspaces, .bin) as they are. */
async function linkModules(installed: string, into: string): Promise<void> {
  await mkdir(into, { recursive: true });
  await chown(into, BUILD_UID, BUILD_UID);
  for (const entry of await readdir(installed, { withFileTypes: true })) {
    // What npm ci writes; not the caches tools keep there (.vite, .cache, ...).
    if (entry.name.startsWith(".") && ![".bin", ".package-lock.json"].includes(entry.name)) continue;
    const source = path.join(installed, entry.name);
    const target = path.join(into, entry.name);
    if (entry.isSymbolicLink()) await symlink(await readlink(source), target);
    else if (entry.isDirectory() && (entry.name.startsWith("@") || entry.name === ".bin"))
      await linkModules(source, target);
    else await symlink(source, target);
  }
}

/** The entries of a directory tree on this machine, parents first ("." is the directory itself). */
async function treeEntries(dir: string): Promise<ContextEntry[]> {
  if (!existsSync(dir)) return [];
  const top = await lstat(dir);
  const entryOf = async (file: string, relative: string): Promise<ContextEntry> => {
    const stats = await lstat(file);
    const type = stats.isDirectory() ? "directory" : stats.isSymbolicLink() ? "symlink" : "file";
    return {
      path: relative,
      type,
      mode: stats.mode & 0o7777,
      read: async () =>
        type === "symlink" ? Buffer.from(await readlink(file)) : type === "file" ? readFile(file) : Buffer.alloc(0),
    };
  };
  if (!top.isDirectory()) return [await entryOf(dir, ".")];
  const entries = [await entryOf(dir, ".")];
  const names = (await readdir(dir, { recursive: true })).sort();
  for (const name of names) entries.push(await entryOf(path.join(dir, name), name.split(path.sep).join("/")));
  return entries;
}

async function treeDigest(dir: string): Promise<string> {
  const hash = createHash("sha256");
  for (const entry of await treeEntries(dir)) {
    hash.update(`${entry.type}\0${entry.path}\0${String(entry.mode)}\0`);
    hash.update(await entry.read());
    hash.update("\0");
  }
  return hash.digest("hex");
}

class Semaphore {
  #free: number;
  readonly #waiting: (() => void)[] = [];
  constructor(size: number) {
    this.#free = Math.max(1, size);
  }
  async acquire(): Promise<() => void> {
    if (this.#free > 0) this.#free--;
    else await new Promise<void>((resolve) => this.#waiting.push(resolve));
    let released = false;
    return () => {
      if (released) return;
      released = true;
      const next = this.#waiting.shift();
      if (next) next();
      else this.#free++;
    };
  }
}
