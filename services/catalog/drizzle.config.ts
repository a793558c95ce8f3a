// drizzle-kit config: after changing src/schema.ts, from the repository root run
//   npx drizzle-kit generate --config services/catalog/drizzle.config.ts
// and commit the new migration in services/catalog/drizzle/.
import { defineConfig } from "drizzle-kit";

export default defineConfig({
  dialect: "postgresql",
  schema: "./services/catalog/src/schema.ts",
  out: "./services/catalog/drizzle",
});
