// A Docker build context: the files under a directory that `docker build`
// sends to the builder, i.e. everything except what .dockerignore excludes
// (matched by @balena/dockerignore, a port of Docker's own matcher). Tests can
// lay extra or replaced files over it (`overrides`) to build a variant of the
// repository without touching it.
import { createHash } from "node:crypto";
import { existsSync, readFileSync } from "node:fs";
import { lstat, readdir, readFile, readlink } from "node:fs/promises";
import path from "node:path";
import dockerignore from "@balena/dockerignore";

// Its types declare an ES default export; at run time the function is module.exports itself.
const ignore = dockerignore as unknown as typeof dockerignore.default;

export interface ContextEntry {
  /** Path relative to the context root, `/`-separated. */
  path: string;
  type: "file" | "directory" | "symlink";
  /** Permission bits. */
  mode: number;
  /** A file's contents (read when copied), or a symlink's target. */
  read(): Promise<Buffer>;
}

export class BuildContext {
  readonly #ignore: ReturnType<typeof ignore>;
  readonly #hasExceptions: boolean;
  #entries: Promise<Map<string, ContextEntry>> | undefined;

  /**
   * @param root the directory `docker build` is given (`.`)
   * @param overrides files laid over the directory (path -> contents), as if they were in it
   */
  constructor(
    readonly root: string,
    readonly overrides: Readonly<Record<string, string>> = {},
  ) {
    const file = path.join(root, ".dockerignore");
    const patterns = existsSync(file) ? readFileSync(file, "utf8").split(/\r?\n/) : [];
    this.#ignore = ignore().add(patterns);
    this.#hasExceptions = patterns.some((p) => p.trim().startsWith("!"));
  }

  /** Whether .dockerignore excludes this path (relative to the root) from the context. */
  excludes(relative: string): boolean {
    return this.#ignore.ignores(relative);
  }

  /** Every file, directory and symlink in the context, by path. */
  entries(): Promise<Map<string, ContextEntry>> {
    this.#entries ??= this.#collect();
    return this.#entries;
  }

  /** The entries at or below `relative` (a context path, "." for all), parents first. */
  async under(relative: string): Promise<ContextEntry[]> {
    const prefix = path.posix.normalize(relative).replace(/\/$/, "");
    const all = [...(await this.entries()).values()];
    if (prefix === ".") return all;
    return all.filter((e) => e.path === prefix || e.path.startsWith(`${prefix}/`));
  }

  /** A digest of the entries at or below `relative`: what a COPY of it would put into a layer. */
  async digest(relative: string): Promise<string> {
    const hash = createHash("sha256");
    for (const entry of await this.under(relative)) {
      hash.update(`${entry.type}\0${entry.path}\0${String(entry.mode)}\0`);
      if (entry.type !== "directory") hash.update(await entry.read());
      hash.update("\0");
    }
    return hash.digest("hex");
  }

  async #collect(): Promise<Map<string, ContextEntry>> {
    const entries = new Map<string, ContextEntry>();
    const walk = async (relative: string): Promise<void> => {
      const names = (await readdir(path.join(this.root, relative))).sort();
      for (const name of names) {
        const child = relative ? `${relative}/${name}` : name;
        const absolute = path.join(this.root, child);
        const stats = await lstat(absolute);
        const excluded = this.excludes(child);
        if (stats.isDirectory()) {
          // Docker walks into an excluded directory only when an exception (`!`) could bring part of it back.
          if (excluded && !this.#hasExceptions) continue;
          if (!excluded) entries.set(child, { path: child, type: "directory", mode: stats.mode & 0o7777, read });
          await walk(child);
        } else if (!excluded) {
          const symlink = stats.isSymbolicLink();
          entries.set(child, {
            path: child,
            type: symlink ? "symlink" : "file",
            mode: stats.mode & 0o7777,
            read: symlink ? async () => Buffer.from(await readlink(absolute)) : () => readFile(absolute),
          });
        }
      }
    };
    const read = () => Promise.resolve(Buffer.alloc(0));
    await walk("");
    for (const [file, contents] of Object.entries(this.overrides)) {
      if (this.excludes(file)) continue;
      const parts = file.split("/");
      for (let i = 1; i < parts.length; i++) {
        const dir = parts.slice(0, i).join("/");
        if (!entries.has(dir)) entries.set(dir, { path: dir, type: "directory", mode: 0o755, read });
      }
      const previous = entries.get(file);
      entries.set(file, {
        path: file,
        type: "file",
        mode: previous?.mode ?? 0o644,
        read: () => Promise.resolve(Buffer.from(contents)),
      });
    }
    return new Map([...entries].sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0)));
  }
}
