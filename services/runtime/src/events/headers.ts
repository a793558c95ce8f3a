// Message headers the runtime sets and reads.

/** The event id. Inboxes key on it; a replay keeps it while changing Nats-Msg-Id. */
export const EVENT_ID_HEADER = "Shop-Event-Id";
/** The protobuf message type name, used to decode the payload. */
export const EVENT_TYPE_HEADER = "Shop-Event-Type";
/** On a replay: the dead letter it came from. */
export const REPLAY_OF_HEADER = "Shop-Replay-Of";
/** JetStream's de-duplication id. */
export const MSG_ID_HEADER = "Nats-Msg-Id";
