// Attribute names from the OpenTelemetry semantic conventions that are still
// "incubating" (RPC, messaging). The package's own advice is to copy those
// rather than import `@opentelemetry/semantic-conventions/incubating`, whose
// exports may change in any minor release; the stable ones are imported.
export {
  ATTR_DB_COLLECTION_NAME,
  ATTR_DB_NAMESPACE,
  ATTR_DB_OPERATION_NAME,
  ATTR_DB_QUERY_TEXT,
  ATTR_DB_RESPONSE_STATUS_CODE,
  ATTR_DB_SYSTEM_NAME,
  ATTR_ERROR_TYPE,
  ATTR_SERVER_ADDRESS,
  ATTR_SERVER_PORT,
  ATTR_SERVICE_NAME,
} from "@opentelemetry/semantic-conventions";

export const ATTR_RPC_SYSTEM = "rpc.system";
export const ATTR_RPC_SERVICE = "rpc.service";
export const ATTR_RPC_METHOD = "rpc.method";
/** gRPC status as a number (gRPC calls). */
export const ATTR_RPC_GRPC_STATUS_CODE = "rpc.grpc.status_code";
/** Connect error code, e.g. "not_found" (Connect calls that failed). */
export const ATTR_RPC_CONNECT_RPC_ERROR_CODE = "rpc.connect_rpc.error_code";
/** The call's status by name, e.g. "OK", "NOT_FOUND", whatever the protocol (newer RPC conventions). */
export const ATTR_RPC_RESPONSE_STATUS_CODE = "rpc.response.status_code";

export const ATTR_MESSAGING_SYSTEM = "messaging.system";
export const ATTR_MESSAGING_DESTINATION_NAME = "messaging.destination.name";
export const ATTR_MESSAGING_OPERATION_TYPE = "messaging.operation.type";
export const ATTR_MESSAGING_OPERATION_NAME = "messaging.operation.name";
export const ATTR_MESSAGING_MESSAGE_ID = "messaging.message.id";
export const ATTR_MESSAGING_MESSAGE_BODY_SIZE = "messaging.message.body.size";
export const ATTR_MESSAGING_CONSUMER_GROUP_NAME = "messaging.consumer.group.name";

/** Our own: the protobuf type of an event, its delivery number and what the consumer made of it. */
export const ATTR_SHOP_EVENT_TYPE = "shop.event.type";
export const ATTR_SHOP_EVENT_DELIVERY = "shop.event.delivery_count";
export const ATTR_SHOP_EVENT_OUTCOME = "shop.event.outcome";

export const DB_SYSTEM_POSTGRESQL = "postgresql";
export const MESSAGING_SYSTEM_NATS = "nats";
