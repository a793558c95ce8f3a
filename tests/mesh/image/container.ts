// An image (build.ts) run the way a Deployment's container runs it, without a
// container runtime: the container's command, arguments, working directory
// and environment over the image's, as the user its securityContext names
// (uid 1000; this needs root, which the dev and CI machines are), with its
// volumes (emptyDir, configMap) as directories of their own.
//
// readOnlyRootFilesystem cannot be a read-only mount here (that needs
// privileges these machines need not have), so it is enforced through
// ownership: an image's files belong to root and none is writable by the
// container's user, which is checked before the start; after the run, the
// image must be exactly as it was (nothing written, created or removed).
// Writable places are the volumes only: an emptyDir at /tmp is where TMPDIR
// points.
//
// Mapped to this machine: `node` is the Node 24 running the tests (the image's
// is node:24's); container paths in environment values (mount paths, image
// paths) point at their directories here.
import { type ChildProcess, spawn } from "node:child_process";
import { chmod, chown, lstat, mkdir, readdir, readFile, writeFile } from "node:fs/promises";
import path from "node:path";
import type { Image } from "./build.ts";

/** A Deployment's container, as far as running it goes (parsed YAML). */
export interface ContainerSpec {
  name: string;
  command?: string[];
  args?: string[];
  workingDir?: string;
  securityContext?: { runAsUser?: number; runAsGroup?: number; readOnlyRootFilesystem?: boolean };
  volumeMounts?: { name: string; mountPath: string; readOnly?: boolean }[];
}

export interface PodSpec {
  securityContext?: { runAsUser?: number; runAsGroup?: number; fsGroup?: number };
  volumes?: { name: string; emptyDir?: object; configMap?: { name: string } }[];
}

export interface ContainerOptions {
  image: Image;
  pod: PodSpec;
  container: ContainerSpec;
  /** The container's environment, its cluster addresses already pointed at this machine. */
  env: Record<string, string>;
  /** ConfigMaps by name (for configMap volumes). */
  configMaps: Record<string, Record<string, string> | undefined>;
  /** Where the volumes' directories go. */
  scratch: string;
}

export interface RunningContainer {
  readonly process: ChildProcess;
  readonly uid: number;
  /** The last lines it printed. */
  output(): string;
  readonly exited: Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
  exit: { code: number | null; signal: NodeJS.Signals | null } | undefined;
  /** What changed in the image's filesystem since the start (must be nothing: the root filesystem is read-only). */
  changes(): Promise<string[]>;
}

const DEFAULT_PATH = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin";

export async function startContainer(options: ContainerOptions): Promise<RunningContainer> {
  const { image, pod, container } = options;
  const [imageUser, imageGroup] = (image.user ?? "0").split(":");
  const uid = container.securityContext?.runAsUser ?? pod.securityContext?.runAsUser ?? Number(imageUser);
  const gid =
    container.securityContext?.runAsGroup ?? pod.securityContext?.runAsGroup ?? Number(imageGroup || String(uid));
  if (!Number.isInteger(uid) || !Number.isInteger(gid))
    throw new Error(`${container.name}: only numeric users are emulated (image user ${image.user ?? "unset"})`);

  const before = await snapshot(image.root);
  if (container.securityContext?.readOnlyRootFilesystem) {
    const writable = [...before.values()].filter((f) => writableBy(f, uid, gid)).map((f) => f.path);
    if (writable.length > 0)
      throw new Error(
        `${container.name}: readOnlyRootFilesystem, yet uid ${String(uid)} could write ${writable.slice(0, 5).join(", ")} in the image`,
      );
  }

  // Volumes: each mount a directory of its own.
  const mounts = new Map<string, string>();
  for (const mount of container.volumeMounts ?? []) {
    const volume = pod.volumes?.find((v) => v.name === mount.name);
    const dir = path.join(options.scratch, `${container.name}-volume-${mount.name}`);
    await mkdir(dir, { recursive: true });
    if (volume?.emptyDir) {
      await chown(dir, uid, pod.securityContext?.fsGroup ?? gid);
      await chmod(dir, 0o770);
    } else if (volume?.configMap) {
      const data = options.configMaps[volume.configMap.name];
      if (!data) throw new Error(`${container.name}: no ConfigMap ${volume.configMap.name} for volume ${mount.name}`);
      for (const [key, value] of Object.entries(data)) await writeFile(path.join(dir, key), value, { mode: 0o644 });
      await chmod(dir, 0o755);
    } else throw new Error(`${container.name}: volume ${mount.name} is neither an emptyDir nor a configMap`);
    mounts.set(mount.mountPath, dir);
  }
  const hostPath = (containerPath: string): string => {
    for (const [mountPath, dir] of [...mounts].sort(([a], [b]) => b.length - a.length)) {
      if (containerPath === mountPath || containerPath.startsWith(`${mountPath}/`))
        return path.join(dir, path.posix.relative(mountPath, containerPath));
    }
    return path.join(image.root, containerPath);
  };
  const mapValue = (value: string) =>
    value.startsWith("/") && [...mounts.keys(), image.workdir].some((p) => value === p || value.startsWith(`${p}/`))
      ? hostPath(value)
      : value;

  const command = [...(container.command ?? []), ...(container.args ?? [])];
  if (command.length === 0) throw new Error(`${container.name}: the emulation needs the Deployment's command`);
  const executable = command[0] === "node" ? process.execPath : command[0];
  const env: Record<string, string> = {
    PATH: `${path.dirname(process.execPath)}:${DEFAULT_PATH}`,
    // The node image's home for uid 1000; absent here, as unwritable as the rest of the image.
    HOME: path.join(image.root, "home", "node"),
    ...image.env,
    ...Object.fromEntries(Object.entries(options.env).map(([k, v]) => [k, mapValue(v)])),
  };
  const tmp = mounts.get("/tmp");
  if (tmp) env.TMPDIR = tmp;

  const child = spawn(executable, command.slice(1), {
    cwd: hostPath(container.workingDir ?? image.workdir),
    env,
    uid,
    gid,
    stdio: ["ignore", "pipe", "pipe"],
  });
  const lines: string[] = [];
  const keep = (chunk: Buffer) => {
    lines.push(chunk.toString());
    if (lines.length > 300) lines.shift();
  };
  child.stdout.on("data", keep);
  child.stderr.on("data", keep);
  const running: RunningContainer = {
    process: child,
    uid,
    output: () => lines.join(""),
    exit: undefined,
    exited: new Promise((resolve) => {
      child.once("error", (err) => {
        lines.push(`cannot start ${executable}: ${err.message}\n`);
        resolve((running.exit = { code: null, signal: null }));
      });
      child.once("exit", (code, signal) => {
        resolve((running.exit = { code, signal }));
      });
    }),
    async changes() {
      const after = await snapshot(image.root);
      const changed: string[] = [];
      for (const [file, was] of before) {
        const now = after.get(file);
        if (!now) changed.push(`removed ${file}`);
        else if (now.signature !== was.signature) changed.push(`changed ${file}`);
      }
      for (const file of after.keys()) if (!before.has(file)) changed.push(`created ${file}`);
      return changed;
    },
  };
  return running;
}

/** The uid a running process has (from /proc), to show it is not root. */
export async function processUid(pid: number): Promise<number | undefined> {
  const status = await readFile(`/proc/${String(pid)}/status`, "utf8").catch(() => "");
  const match = /^Uid:\s+(\d+)/m.exec(status);
  return match ? Number(match[1]) : undefined;
}

interface FileState {
  path: string;
  uid: number;
  gid: number;
  mode: number;
  isSymlink: boolean;
  /** What a write would change: size, modification time, mode, owner. */
  signature: string;
}

async function snapshot(root: string): Promise<Map<string, FileState>> {
  const files = new Map<string, FileState>();
  const names = ["", ...(await readdir(root, { recursive: true }))];
  for (const name of names) {
    const s = await lstat(path.join(root, name));
    files.set(`/${name}`, {
      path: `/${name}`,
      uid: s.uid,
      gid: s.gid,
      mode: s.mode,
      isSymlink: s.isSymbolicLink(),
      signature: [s.size, s.mtimeMs, s.mode, s.uid, s.gid].join(" "),
    });
  }
  return files;
}

function writableBy(file: FileState, uid: number, gid: number): boolean {
  if (file.isSymlink) return false;
  if (file.uid === uid) return true; // its owner can chmod it
  if (file.gid === gid) return (file.mode & 0o020) !== 0;
  return (file.mode & 0o002) !== 0;
}
