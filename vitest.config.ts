import { defineConfig } from "vitest/config";

export default defineConfig({
  test: {
    include: ["tests/**/*.test.ts", "services/*/test/**/*.test.ts", "scripts/**/*.test.ts"],
    globalSetup: ["tests/support/build-bundles.ts"],
    // Integration tests start real servers, Postgres databases and JetStream
    // streams; generous timeouts keep a busy 2-core CI machine from flaking.
    testTimeout: 60_000,
    hookTimeout: 120_000,
  },
});
