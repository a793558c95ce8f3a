// Which release track of a service does its event-driven work (its event
// consumers and its background tasks, see runService). In a cluster,
// a service can run two tracks side by side (a canary's v1 and v2, or the
// blue and green colours of a blue-green release; mesh/generator/releases.ts)
// that share one database and one set of JetStream durables. Exactly one
// track consumes: the one the release file names. Its pods pull from the
// shared durables, the other track's pods pull nothing, so the split of
// event-driven work never depends on how many pods each track has, and a
// blue-green switch moves all of it at once.
//
//   SERVICE_TRACK  this pod's track (v1, v2, blue, green); default v1
//   RELEASE_FILE   JSON {"<service>": {"events": "<track>"}}, mounted from the
//                  ConfigMap shop-release; unset (npm start, tests): consume.
//
// The file is re-read every few seconds (the kubelet rewrites a mounted
// ConfigMap in place when it changes, within about a minute): when the
// events move to another track, this pod stops its consumers (in-flight
// messages finish and are acked) and the other track's pods start theirs.
// Nothing is lost or applied twice while both or neither consume: the
// durables keep every unacknowledged message, and the inbox (shared by both
// tracks, keyed by event and durable) drops a second delivery.
import { readFile } from "node:fs/promises";
import type { Logger } from "./log.ts";

export interface ReleaseTrackOptions {
  service: string;
  env: Record<string, string | undefined>;
  logger: Logger;
  /** How often the release file is re-read; default 5 s. */
  pollMs?: number;
}

/** Something that can be started and stopped more than once (a fresh EventConsumer each time). */
export interface EventWork {
  start(): Promise<void>;
  stop(): Promise<void>;
}

/** Whether `track` consumes events according to the release file's text (invalid text: keep the current decision). */
export function consumesEvents(service: string, track: string, fileText: string): boolean | undefined {
  let parsed: unknown;
  try {
    parsed = JSON.parse(fileText);
  } catch {
    return undefined;
  }
  if (typeof parsed !== "object" || parsed === null) return undefined;
  const entry = (parsed as Record<string, unknown>)[service];
  // A service the file does not mention runs one track, which consumes.
  if (entry === undefined) return true;
  const events = typeof entry === "object" && entry !== null && "events" in entry ? entry.events : undefined;
  return typeof events === "string" ? events === track : undefined;
}

/**
 * Runs `work` while this pod's track is the one that consumes events, and
 * follows changes of the release file. Resolves once the first decision is
 * applied (consumers started if this track consumes).
 */
export async function followReleaseTrack(
  work: () => EventWork,
  options: ReleaseTrackOptions,
): Promise<{ stop(): Promise<void>; readonly consuming: boolean }> {
  const track = options.env.SERVICE_TRACK || "v1";
  const file = options.env.RELEASE_FILE || undefined;
  const log = options.logger;
  let running: EventWork | undefined;
  let changing: Promise<void> = Promise.resolve();
  let stopped = false;

  const apply = (consume: boolean) => {
    changing = changing.then(async () => {
      if (stopped) return;
      if (consume && running === undefined) {
        const next = work();
        await next.start();
        running = next;
        log.info({ track }, "this track consumes events");
      } else if (!consume && running !== undefined) {
        const current = running;
        running = undefined;
        await current.stop();
        log.info({ track }, "events moved to another track: consumers stopped");
      }
    });
    return changing;
  };

  const read = async (): Promise<boolean | undefined> => {
    if (!file) return true;
    try {
      return consumesEvents(options.service, track, await readFile(file, "utf8"));
    } catch (err) {
      log.warn({ err, file }, "cannot read the release file; keeping the current event consumers");
      return undefined;
    }
  };

  const first = await read();
  if (first === undefined && file)
    log.warn({ file }, "release file unreadable at start: consuming until it says otherwise");
  await apply(first ?? true);

  const timer = file
    ? setInterval(() => {
        void read().then((decision) => (decision === undefined ? undefined : apply(decision)));
      }, options.pollMs ?? 5000)
    : undefined;
  timer?.unref();

  return {
    get consuming() {
      return running !== undefined;
    },
    async stop() {
      clearInterval(timer);
      await changing;
      stopped = true;
      const current = running;
      running = undefined;
      await current?.stop();
    },
  };
}
