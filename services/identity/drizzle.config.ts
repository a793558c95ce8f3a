// drizzle-kit config: after changing src/schema.ts, from the repository root run
//   npx drizzle-kit generate --config services/identity/drizzle.config.ts
// and commit the new migration in services/identity/drizzle/.
import { defineConfig } from "drizzle-kit";

export default defineConfig({
  dialect: "postgresql",
  schema: "./services/identity/src/schema.ts",
  out: "./services/identity/drizzle",
});
