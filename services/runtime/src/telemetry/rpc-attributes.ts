// The attributes of RPC spans and metrics, made once per method, protocol,
// address and status and then shared by every call of that kind, instead of
// a fresh object (and a URL parse for server.address/server.port) per call:
// both ends of every hop record them. The shared objects are only read,
// never changed; the tracer and the meter copy or hash what they are given.
import type { DescMethod } from "@bufbuild/protobuf";
import type { Attributes } from "@opentelemetry/api";
import {
  ATTR_RPC_METHOD,
  ATTR_RPC_RESPONSE_STATUS_CODE,
  ATTR_RPC_SERVICE,
  ATTR_RPC_SYSTEM,
  ATTR_SERVER_ADDRESS,
  ATTR_SERVER_PORT,
} from "./semconv.ts";

export type RpcSystem = "grpc" | "connect_rpc";

/**
 * Distinct request URLs remembered per method and protocol. The authority
 * part comes from the caller (Host, :authority), so a caller inventing
 * hosts must not grow the cache: past this, attributes are made per call.
 */
const MAX_URLS = 64;

export function serverAddressOf(url: string): Attributes {
  try {
    const u = new URL(url);
    const port = Number(u.port || (u.protocol === "https:" ? 443 : 80));
    return { [ATTR_SERVER_ADDRESS]: u.hostname, [ATTR_SERVER_PORT]: port };
  } catch {
    return {};
  }
}

/** What the calls of one method over one protocol share. */
export class RpcCallAttributes {
  /** `<service>/<method>`, the span name. */
  readonly spanName: string;
  readonly #base: Attributes;
  readonly #spans = new Map<string, Attributes>();
  readonly #metrics = new Map<string, Attributes>();

  constructor(system: RpcSystem, method: DescMethod) {
    this.spanName = `${method.parent.typeName}/${method.name}`;
    this.#base = {
      [ATTR_RPC_SYSTEM]: system,
      [ATTR_RPC_SERVICE]: method.parent.typeName,
      [ATTR_RPC_METHOD]: method.name,
    };
  }

  /** A span's starting attributes: rpc.system, rpc.service, rpc.method and the server address in `url`. */
  span(url: string): Attributes {
    let attributes = this.#spans.get(url);
    if (attributes === undefined) {
      attributes = { ...this.#base, ...serverAddressOf(url) };
      if (this.#spans.size < MAX_URLS) this.#spans.set(url, attributes);
    }
    return attributes;
  }

  /** The metric attributes of a call that ended with `status` (a gRPC code name: a fixed set). */
  metric(status: string): Attributes {
    let attributes = this.#metrics.get(status);
    if (attributes === undefined) {
      attributes = { ...this.#base, [ATTR_RPC_RESPONSE_STATUS_CODE]: status };
      this.#metrics.set(status, attributes);
    }
    return attributes;
  }
}

/** RpcCallAttributes by method and protocol, made on a method's first call. */
export class RpcAttributeCache {
  readonly #grpc = new Map<DescMethod, RpcCallAttributes>();
  readonly #connect = new Map<DescMethod, RpcCallAttributes>();

  of(method: DescMethod, system: RpcSystem): RpcCallAttributes {
    const byMethod = system === "grpc" ? this.#grpc : this.#connect;
    let attributes = byMethod.get(method);
    if (attributes === undefined) {
      attributes = new RpcCallAttributes(system, method);
      byMethod.set(method, attributes);
    }
    return attributes;
  }
}
