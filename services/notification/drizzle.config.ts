// drizzle-kit config: after changing src/schema.ts, from the repository root run
//   npx drizzle-kit generate --config services/notification/drizzle.config.ts
// and commit the new migration in services/notification/drizzle/.
import { defineConfig } from "drizzle-kit";

export default defineConfig({
  dialect: "postgresql",
  schema: "./services/notification/src/schema.ts",
  out: "./services/notification/drizzle",
});
