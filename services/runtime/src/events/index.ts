// Events: transactional outbox, relay to JetStream, idempotent consumers,
// dead letters. See ./consumer.ts and ./relay.ts for the guarantees.
export * from "./naming.ts";
export * from "./headers.ts";
export * from "./bus.ts";
export * from "./outbox.ts";
export * from "./relay.ts";
export * from "./consumer.ts";
export * from "./dead-letters.ts";
