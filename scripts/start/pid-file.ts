// The launcher's pid file, <data dir>/npm-start.pids.json: the launcher's
// pid and the pid of every process it runs now (services, Postgres, NATS),
// rewritten whenever one is started or restarted and removed by a clean stop.
// The next `npm start` with the same data directory reads it: a launcher
// still running there is reported (pid and all), and processes a dead
// launcher left behind (they should have followed it, see child.ts, but a
// process may hang or ignore signals) are named and stopped before anything
// is checked or started, instead of surfacing as a clash on their ports.
//
// A pid alone can be reused by an unrelated process after a reboot or a long
// time, so each entry keeps the process's start time (Linux: /proc/<pid>/stat)
// and is believed only while that still matches.
import { mkdirSync, readFileSync, renameSync, rmSync, writeFileSync } from "node:fs";
import path from "node:path";

export const PID_FILE = "npm-start.pids.json";

export interface ProcessEntry {
  /** A service instance ("order", "order-2"), "postgres", "nats" or "launcher". */
  name: string;
  pid: number;
  /** Clock ticks after boot when it started (field 22 of /proc/<pid>/stat); undefined off Linux. */
  startTime?: number;
  /** Its command line, for messages. */
  command?: string;
}

export interface PidFileContents {
  launcher: ProcessEntry;
  processes: ProcessEntry[];
  /** ISO time the file was last written. */
  writtenAt: string;
}

export function pidFilePath(dataDir: string): string {
  return path.join(dataDir, PID_FILE);
}

function readProc(pid: number, file: string): string | undefined {
  try {
    return readFileSync(`/proc/${String(pid)}/${file}`, "utf8");
  } catch {
    return undefined;
  }
}

/** What identifies a running process: its pid, start time and command line (undefined if it is not running). */
export function describeProcess(name: string, pid: number): ProcessEntry | undefined {
  const stat = readProc(pid, "stat");
  if (stat === undefined) {
    // Not Linux (or already gone): signal 0 tells whether the pid exists.
    if (process.platform === "linux") return undefined;
    try {
      process.kill(pid, 0);
      return { name, pid };
    } catch {
      return undefined;
    }
  }
  // Fields after the ")" that ends the command name: state is field 3, starttime field 22.
  const fields = stat.slice(stat.lastIndexOf(")") + 2).split(" ");
  if (fields[0] === "Z") return undefined; // exited, only not reaped yet
  const command = readProc(pid, "cmdline")?.split("\0").join(" ").trim();
  return { name, pid, startTime: Number(fields[19]), command: command || undefined };
}

/** Whether `entry` still names the same, running process. */
export function stillRunning(entry: ProcessEntry): ProcessEntry | undefined {
  const now = describeProcess(entry.name, entry.pid);
  if (!now) return undefined;
  if (entry.startTime !== undefined && now.startTime !== undefined && entry.startTime !== now.startTime)
    return undefined;
  return now;
}

/** Writes the pid file (atomically: a reader never sees half of it). */
export function writePidFile(dataDir: string, processes: readonly { name: string; pid: number | undefined }[]): void {
  const launcher = describeProcess("launcher", process.pid) ?? { name: "launcher", pid: process.pid };
  const contents: PidFileContents = {
    launcher,
    processes: processes.flatMap((p) => {
      if (p.pid === undefined) return [];
      return [describeProcess(p.name, p.pid) ?? { name: p.name, pid: p.pid }];
    }),
    writtenAt: new Date().toISOString(),
  };
  mkdirSync(dataDir, { recursive: true });
  const file = pidFilePath(dataDir);
  const temporary = `${file}.${String(process.pid)}.tmp`;
  writeFileSync(temporary, JSON.stringify(contents, null, 2) + "\n");
  renameSync(temporary, file);
}

export function removePidFile(dataDir: string): void {
  rmSync(pidFilePath(dataDir), { force: true });
}

export function readPidFile(dataDir: string): PidFileContents | undefined {
  let text: string;
  try {
    text = readFileSync(pidFilePath(dataDir), "utf8");
  } catch {
    return undefined;
  }
  try {
    const parsed = JSON.parse(text) as Partial<PidFileContents>;
    if (!parsed.launcher || !Array.isArray(parsed.processes)) return undefined;
    return parsed as PidFileContents;
  } catch {
    return undefined; // a torn or foreign file: nothing to go by
  }
}

export type EarlierRun =
  | { kind: "none" }
  /** The launcher that wrote the file is still running. */
  | { kind: "running"; launcher: ProcessEntry; processes: ProcessEntry[] }
  /** Its launcher is gone; these of its processes are still running. */
  | { kind: "stale"; processes: ProcessEntry[] };

/** What the pid file in `dataDir` says about an earlier `npm start` (other than this process). */
export function earlierRun(dataDir: string): EarlierRun {
  const contents = readPidFile(dataDir);
  if (!contents || contents.launcher.pid === process.pid) return { kind: "none" };
  const alive = contents.processes.flatMap((p) => {
    const now = stillRunning(p);
    return now ? [now] : [];
  });
  const launcher = stillRunning(contents.launcher);
  if (launcher) return { kind: "running", launcher, processes: alive };
  return alive.length > 0 ? { kind: "stale", processes: alive } : { kind: "none" };
}

/** "order (pid 123), nats (pid 456)". */
export function listProcesses(processes: readonly ProcessEntry[]): string {
  return processes.map((p) => `${p.name} (pid ${String(p.pid)})`).join(", ");
}

/**
 * Stops processes an earlier launcher left behind: SIGTERM, then SIGKILL for
 * any still running after `graceMs`. Resolves with those that needed SIGKILL.
 */
export async function stopStale(processes: readonly ProcessEntry[], graceMs = 5_000): Promise<ProcessEntry[]> {
  const signal = (p: ProcessEntry, name: NodeJS.Signals) => {
    try {
      process.kill(p.pid, name);
    } catch {
      // gone meanwhile
    }
  };
  // Postgres: fast shutdown (SIGTERM would wait for its clients to leave).
  for (const p of processes) signal(p, p.name === "postgres" ? "SIGINT" : "SIGTERM");
  const giveUpAt = performance.now() + graceMs;
  while (performance.now() < giveUpAt && processes.some((p) => stillRunning(p))) {
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
  const stubborn = processes.filter((p) => stillRunning(p));
  for (const p of stubborn) signal(p, "SIGKILL");
  const killedAt = performance.now();
  while (performance.now() - killedAt < 2_000 && stubborn.some((p) => stillRunning(p))) {
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
  return stubborn;
}
