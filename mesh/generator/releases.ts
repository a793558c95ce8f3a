// Release tracks: which versions of a service run side by side, how requests
// are split between them, and which one does the event-driven work. Read
// from mesh/releases.json (which `npm run mesh:switch` edits), so the
// VirtualServices, DestinationRules, Deployments and the release ConfigMap
// the services read at run time all come from one plan.
//
//   (not listed)   one track, v1: every request, every event.
//   canary         v1 and v2. Requests without a routing header go to v2 with
//                  probability weight/100 (Istio's weighted route, per request);
//                  requests with `x-canary: v2` always go to v2, and the header
//                  travels with every downstream call they cause. Events: v1
//                  only. v2 runs no event consumers until it is promoted (its
//                  image becomes v1's), so a canary never takes a share of
//                  saga steps that depends on how many pods it has.
//   blue-green     two colours, both at full size while the idle one is `up`.
//                  The live colour gets every request and every event; the
//                  idle one only requests with `x-preview: <colour>`, and no
//                  events. `mesh:switch` flips which colour is live for
//                  requests and events in the same apply.
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { ROUTING_HEADERS } from "../../services/runtime/src/routing-headers.ts";
import { repoRoot } from "./contracts.ts";

export type Colour = "blue" | "green";
export type Release =
  { strategy: "canary"; weight: number } | { strategy: "blue-green"; live: Colour; idle: "up" | "down" };

/** Release of each service that runs more than one track (a service not listed runs one). */
export type ReleasePlan = Readonly<Partial<Record<string, Release>>>;

export type TrackName = "v1" | "v2" | Colour;

export interface Track {
  name: TrackName;
  /**
   * full: sized like the service (and autoscaled where the overlay has an
   * autoscaling layer); canary: one pod; none: scaled to zero (an idle
   * blue-green colour that is down), no subset and no route.
   */
  size: "full" | "canary" | "none";
  /** Share (percent) of requests without a routing header. */
  weight: number;
  /** The routing header (name and value) that always reaches this track. */
  header?: { name: string; value: string };
  /** Whether this track consumes events (exactly one track of a service does). */
  events: boolean;
}

export const RELEASES_FILE = "mesh/releases.json";

export function otherColour(colour: Colour): Colour {
  return colour === "blue" ? "green" : "blue";
}

/** The tracks a service runs under a plan, the track doing the event-driven work first. */
export function tracksOf(service: string, plan: ReleasePlan): Track[] {
  const release = plan[service];
  if (!release) return [{ name: "v1", size: "full", weight: 100, events: true }];
  if (release.strategy === "canary") {
    return [
      { name: "v1", size: "full", weight: 100 - release.weight, events: true },
      {
        name: "v2",
        size: "canary",
        weight: release.weight,
        events: false,
        header: { name: ROUTING_HEADERS.canary, value: "v2" },
      },
    ];
  }
  const idle = otherColour(release.live);
  return [
    { name: release.live, size: "full", weight: 100, events: true },
    release.idle === "up"
      ? { name: idle, size: "full", weight: 0, events: false, header: { name: ROUTING_HEADERS.preview, value: idle } }
      : { name: idle, size: "none", weight: 0, events: false },
  ];
}

/** Tracks that have pods (and so a subset). */
export function runningTracks(service: string, plan: ReleasePlan): Track[] {
  return tracksOf(service, plan).filter((t) => t.size !== "none");
}

/**
 * The plan's problems (unknown services, weights out of range); empty when it
 * is valid. Takes the plan as read from JSON: nothing about it is known yet.
 */
export function planProblems(plan: Readonly<Record<string, unknown>>, services: readonly string[]): string[] {
  const problems: string[] = [];
  for (const [name, value] of Object.entries(plan)) {
    if (!services.includes(name)) problems.push(`${name}: no such service`);
    const release: Partial<Record<string, unknown>> = typeof value === "object" && value !== null ? value : {};
    const { weight, live, idle } = release;
    if (release.strategy === "canary") {
      if (typeof weight !== "number" || !Number.isInteger(weight) || weight < 0 || weight > 100)
        problems.push(`${name}: canary weight must be an integer from 0 to 100 (got ${JSON.stringify(weight)})`);
    } else if (release.strategy === "blue-green") {
      if (live !== "blue" && live !== "green")
        problems.push(`${name}: live must be blue or green (got ${JSON.stringify(live)})`);
      if (idle !== "up" && idle !== "down")
        problems.push(`${name}: idle must be up or down (got ${JSON.stringify(idle)})`);
    } else {
      problems.push(`${name}: strategy must be canary or blue-green`);
    }
  }
  return problems;
}

export function readReleasePlan(root: string = repoRoot): ReleasePlan {
  const parsed = JSON.parse(readFileSync(join(root, RELEASES_FILE), "utf8")) as { services?: ReleasePlan };
  return parsed.services ?? {};
}

/** The release file's text for a plan (what `mesh:switch` writes). */
export function renderReleasePlan(plan: ReleasePlan, root: string = repoRoot): string {
  const current = JSON.parse(readFileSync(join(root, RELEASES_FILE), "utf8")) as Record<string, unknown>;
  return `${JSON.stringify({ ...current, services: plan }, null, 2)}\n`;
}

/** What the services read at run time (ConfigMap shop-release): the track that consumes events, per service. */
export function eventTracks(plan: ReleasePlan, services: readonly string[]): Record<string, { events: TrackName }> {
  const out: Record<string, { events: TrackName }> = {};
  for (const name of services) {
    const consuming = tracksOf(name, plan).find((t) => t.events);
    if (!consuming) throw new Error(`${name}: no track consumes events`);
    out[name] = { events: consuming.name };
  }
  return out;
}
