// The fault schedule of a chaos run, decided by the seed alone: which
// process dies when. Every kind of service is killed at least once when
// there are enough kills; with replicas, a kill names one instance of a pair.
import type { Random } from "./random.ts";

export type Fault =
  | { atMs: number; kind: "kill"; instance: string }
  | { atMs: number; kind: "nats-restart" }
  | { atMs: number; kind: "postgres-restart" };

export interface ScheduleOptions {
  durationMs: number;
  kills: number;
  natsRestarts: number;
  postgresRestarts: number;
  /** Instances by deployable, e.g. order → [order, order-2]. */
  instances: ReadonlyMap<string, readonly string[]>;
}

export function faultSchedule(random: Random, options: ScheduleOptions): Fault[] {
  const services = [...options.instances.keys()].sort();
  // Every kind first (in a random order), then random ones.
  const targets = random.shuffle(services).slice(0, options.kills);
  while (targets.length < options.kills) targets.push(random.pick(services));
  type Kind = { kind: "kill"; service: string } | { kind: "nats-restart" } | { kind: "postgres-restart" };
  const kinds: Kind[] = random.shuffle([
    ...targets.map((service): Kind => ({ kind: "kill", service })),
    ...Array.from({ length: options.natsRestarts }, (): Kind => ({ kind: "nats-restart" })),
    ...Array.from({ length: options.postgresRestarts }, (): Kind => ({ kind: "postgres-restart" })),
  ]);
  // One fault per slot, at a random instant of its slot, between 5% and 90% of the run.
  const start = options.durationMs * 0.05;
  const slot = (options.durationMs * 0.85) / Math.max(kinds.length, 1);
  return kinds.map((k, i): Fault => {
    const atMs = Math.round(start + slot * i + random.next() * slot * 0.8);
    if (k.kind !== "kill") return { atMs, kind: k.kind };
    return { atMs, kind: "kill", instance: random.pick(options.instances.get(k.service) ?? []) };
  });
}

export function describeFault(fault: Fault): string {
  const at = `${(fault.atMs / 1000).toFixed(1).padStart(6)} s`;
  if (fault.kind === "kill") return `${at}  SIGKILL ${fault.instance}`;
  if (fault.kind === "nats-restart") return `${at}  SIGKILL nats-server (the launcher restarts it)`;
  return `${at}  Postgres immediate shutdown (SIGQUIT to the postmaster; the launcher restarts it)`;
}
