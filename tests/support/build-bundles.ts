// Vitest global setup: brings every deployable's bundle up to date once per
// run, before any test file starts, so the suites that run services as real
// processes (tests/support/processes.ts, the browser tests) run what `npm
// start` and the images run, and never race each other to build it.
import { buildServiceBundles } from "../../scripts/build-services.ts";
import { discoverManifests } from "../../scripts/start/services.ts";

export default async function setup(): Promise<void> {
  await buildServiceBundles((await discoverManifests()).map((m) => m.name));
}
