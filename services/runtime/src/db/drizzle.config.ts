// drizzle-kit config for the runtime's own tables. After changing ./schema.ts,
// from the repository root:
//   npx drizzle-kit generate --config services/runtime/src/db/drizzle.config.ts
// and commit the new file in ./migrations.
import { defineConfig } from "drizzle-kit";

export default defineConfig({
  dialect: "postgresql",
  schema: "./services/runtime/src/db/schema.ts",
  out: "./services/runtime/src/db/migrations",
});
