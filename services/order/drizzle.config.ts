// drizzle-kit config: after changing src/schema.ts, from the repository root run
//   npx drizzle-kit generate --config services/order/drizzle.config.ts
// and commit the new migration in services/order/drizzle/.
import { defineConfig } from "drizzle-kit";

export default defineConfig({
  dialect: "postgresql",
  schema: "./services/order/src/schema.ts",
  out: "./services/order/drizzle",
});
