// `npm run fuzz -- [--seed N] [--duration SECONDS]`: the fuzz suite of `npm
// test` (tests/fuzz), longer or replaying a seed it printed. Runs only that
// suite, against the shop as real processes on 127.0.0.1, and stops by itself.
import { spawnSync } from "node:child_process";
import { parseArgs } from "node:util";

const { values } = parseArgs({
  options: { seed: { type: "string" }, duration: { type: "string", default: "300" } },
});
for (const [name, value] of [
  ["seed", values.seed],
  ["duration", values.duration],
] as const) {
  if (value !== undefined && !/^\d+$/.test(value)) {
    console.error(`--${name} must be a whole number (got ${JSON.stringify(value)})`);
    process.exit(2);
  }
}
const env: NodeJS.ProcessEnv = { ...process.env, FUZZ_DURATION_S: values.duration };
if (values.seed !== undefined) env.FUZZ_SEED = values.seed;
const result = spawnSync(process.execPath, ["node_modules/vitest/vitest.mjs", "run", "tests/fuzz"], {
  stdio: "inherit",
  env,
});
process.exit(result.status ?? 1);
