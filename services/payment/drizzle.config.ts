// drizzle-kit config: after changing src/schema.ts, from the repository root run
//   npx drizzle-kit generate --config services/payment/drizzle.config.ts
// and commit the new migration in services/payment/drizzle/.
import { defineConfig } from "drizzle-kit";

export default defineConfig({
  dialect: "postgresql",
  schema: "./services/payment/src/schema.ts",
  out: "./services/payment/drizzle",
});
