// Which release track consumes events: the release file decides, and a change
// of the file moves the consumers, and the background tasks, without a restart.
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { eventually } from "../../../tests/support/eventually.ts";
import { freePort } from "../../../scripts/start/ports.ts";
import { createLogger } from "../src/log.ts";
import { defineService } from "../src/manifest.ts";
import { consumesEvents, followReleaseTrack } from "../src/release-track.ts";
import { startService } from "../src/service.ts";

const dir = mkdtempSync(join(tmpdir(), "release-"));
afterAll(() => rmSync(dir, { recursive: true, force: true }));
const logger = createLogger("test", { level: "silent" });

function recorder() {
  const log: string[] = [];
  let n = 0;
  const work = () => {
    const id = ++n;
    return {
      start: async () => void log.push(`start ${id}`),
      stop: async () => void log.push(`stop ${id}`),
    };
  };
  return { log, work };
}

describe("release track", () => {
  it("reads the release file", () => {
    const file = JSON.stringify({ payment: { events: "blue" } });
    expect(consumesEvents("payment", "blue", file)).toBe(true);
    expect(consumesEvents("payment", "green", file)).toBe(false);
    expect(consumesEvents("order", "v1", file)).toBe(true); // not mentioned: one track, consumes
    expect(consumesEvents("payment", "blue", "{not json")).toBeUndefined();
    expect(consumesEvents("payment", "blue", JSON.stringify({ payment: { events: 3 } }))).toBeUndefined();
  });

  it("consumes without a release file (npm start, tests)", async () => {
    const { log, work } = recorder();
    const track = await followReleaseTrack(work, { service: "payment", env: {}, logger });
    expect(track.consuming).toBe(true);
    await track.stop();
    expect(log).toEqual(["start 1", "stop 1"]);
  });

  it("follows a blue-green switch both ways without a restart, each colour on its own", async () => {
    const file = join(dir, "release.json");
    writeFileSync(file, JSON.stringify({ payment: { events: "blue" } }));
    const blue = recorder();
    const green = recorder();
    const options = (track: string) => ({
      service: "payment",
      env: { SERVICE_TRACK: track, RELEASE_FILE: file },
      logger,
      pollMs: 20,
    });
    const b = await followReleaseTrack(blue.work, options("blue"));
    const g = await followReleaseTrack(green.work, options("green"));
    expect([b.consuming, g.consuming]).toEqual([true, false]);

    writeFileSync(file, JSON.stringify({ payment: { events: "green" } }));
    await eventually("green consumes, blue stopped", () => g.consuming && !b.consuming);
    // A file being rewritten (unreadable for a moment) changes nothing.
    writeFileSync(file, "{");
    writeFileSync(file, JSON.stringify({ payment: { events: "blue" } }));
    await eventually("rolled back", () => b.consuming && !g.consuming);
    await Promise.all([b.stop(), g.stop()]);
    expect(blue.log).toEqual(["start 1", "stop 1", "start 2", "stop 2"]);
    expect(green.log).toEqual(["start 1", "stop 1"]);
  });

  it("runs a service's background tasks on the consuming track only", async () => {
    const file = join(dir, "background.json");
    writeFileSync(file, JSON.stringify({ sweeper: { events: "blue" } }));
    const log: string[] = [];
    const task = {
      start: () => {
        log.push("start");
      },
      stop: () => {
        log.push("stop");
      },
    };
    const manifest = defineService({
      name: "sweeper",
      port: 0,
      serves: [],
      dependsOn: {},
      publishes: [],
      consumes: [],
      database: false,
    });
    const start = async (track: string) =>
      startService({
        manifest,
        setup: () => ({ services: [], background: [task], authenticate: () => undefined }),
        env: {
          PORT: String(await freePort()),
          METRICS_PORT: "0",
          LOG_LEVEL: "silent",
          SERVICE_TRACK: track,
          RELEASE_FILE: file,
        },
      });
    const green = await start("green"); // the idle colour
    expect(log).toEqual([]);
    writeFileSync(file, JSON.stringify({ sweeper: { events: "green" } }));
    await eventually("the sweeper runs on green", () => log.length === 1);
    writeFileSync(file, JSON.stringify({ sweeper: { events: "blue" } }));
    await eventually("stopped when the events go back to blue", () => log.length === 2);
    await green.stop();
    expect(log).toEqual(["start", "stop"]);
  }, 60_000);
});
