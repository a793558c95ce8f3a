// drizzle-kit config: after changing src/schema.ts, from the repository root run
//   npx drizzle-kit generate --config services/inventory/drizzle.config.ts
// and commit the new migration in services/inventory/drizzle/.
import { defineConfig } from "drizzle-kit";

export default defineConfig({
  dialect: "postgresql",
  schema: "./services/inventory/src/schema.ts",
  out: "./services/inventory/drizzle",
});
