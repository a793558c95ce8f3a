// Database per service: drizzle on postgres.js, migrations at start-up, and
// the runtime's own tables (outbox, inbox, dead_letters).
export * from "./database.ts";
export * from "./migrate.ts";
export * from "./schema.ts";
