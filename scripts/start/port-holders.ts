// Who holds a TCP port (Linux: /proc/net/tcp{,6} and /proc/<pid>/fd), so a
// port clash names the process, and a port held only by an outgoing
// connection or a socket in TIME-WAIT (which the kernel releases by itself)
// is told apart from another server listening on it.
import { readdirSync, readFileSync, readlinkSync } from "node:fs";

const TCP_STATES: Record<string, string> = {
  "01": "ESTABLISHED",
  "02": "SYN_SENT",
  "03": "SYN_RECV",
  "04": "FIN_WAIT1",
  "05": "FIN_WAIT2",
  "06": "TIME_WAIT",
  "07": "CLOSE",
  "08": "CLOSE_WAIT",
  "09": "LAST_ACK",
  "0A": "LISTEN",
  "0B": "CLOSING",
};

export interface PortSocket {
  state: string;
  inode: number;
}

/** The sockets whose local port is `port`, from /proc/net/tcp and tcp6 (empty elsewhere). */
export function socketsOnPort(port: number): PortSocket[] {
  const sockets: PortSocket[] = [];
  for (const table of ["/proc/net/tcp", "/proc/net/tcp6"]) {
    let text: string;
    try {
      text = readFileSync(table, "utf8");
    } catch {
      continue;
    }
    for (const row of text.split("\n").slice(1)) {
      const fields = row.trim().split(/\s+/);
      const local = fields[1];
      const state = fields[3];
      const inode = fields[9];
      if (!local || !state || !inode) continue;
      if (Number.parseInt(local.split(":")[1] ?? "", 16) !== port) continue;
      sockets.push({ state: TCP_STATES[state] ?? state, inode: Number(inode) });
    }
  }
  return sockets;
}

/** The process holding socket `inode` open, if this user may see it: "pid 1234 (node services/order/dist/main.js)". */
export function socketOwner(inode: number): { pid: number; command: string } | undefined {
  if (inode === 0) return undefined;
  const target = `socket:[${String(inode)}]`;
  let pids: string[];
  try {
    pids = readdirSync("/proc").filter((entry) => /^\d+$/.test(entry));
  } catch {
    return undefined;
  }
  for (const pid of pids) {
    let fds: string[];
    try {
      fds = readdirSync(`/proc/${pid}/fd`);
    } catch {
      continue; // gone, or not ours to look at
    }
    for (const fd of fds) {
      try {
        if (readlinkSync(`/proc/${pid}/fd/${fd}`) !== target) continue;
      } catch {
        continue;
      }
      let command = "";
      try {
        command = readFileSync(`/proc/${pid}/cmdline`, "utf8").split("\0").filter(Boolean).join(" ");
      } catch {
        // exited meanwhile
      }
      return { pid: Number(pid), command };
    }
  }
  return undefined;
}

/**
 * Why `port` cannot be bound, in words: the listening process when one can
 * be found, else the states of the sockets that hold it.
 */
export function describePortHolder(port: number): { listening: boolean; description: string } {
  const sockets = socketsOnPort(port);
  const listener = sockets.find((s) => s.state === "LISTEN");
  if (listener) {
    const owner = socketOwner(listener.inode);
    const command = owner?.command.replace(/\s+/g, " ").slice(0, 120);
    const shown = owner ? `pid ${String(owner.pid)} (${command ?? ""})` : "a process of another user";
    return { listening: true, description: `${shown} is listening on it` };
  }
  if (sockets.length === 0) return { listening: false, description: "it could not be bound" };
  const states = [...new Set(sockets.map((s) => s.state))].join(", ");
  return { listening: false, description: `a connection in ${states} uses it as its local port` };
}
