// The RPC server every service runs: Connect, gRPC and gRPC-Web on one
// HTTP/2 cleartext (h2c) port, optionally also HTTP/1.1 for browsers (which
// cannot speak h2c), on a second port or on the same one (see
// protocol-sniffer.ts), with health, reflection, the standard interceptor
// chain and graceful shutdown.
import * as http from "node:http";
import * as http2 from "node:http2";
import type { AddressInfo } from "node:net";
import type { DescService } from "@bufbuild/protobuf";
import type { Validator } from "@bufbuild/protovalidate";
import {
  createContextKey,
  createContextValues,
  createServiceImplSpec,
  type Interceptor,
  type ServiceImpl,
} from "@connectrpc/connect";
import type { HttpCachingPolicy } from "./conditional-get.ts";
import { createHealthService, Health, HealthRegistry, ServingStatus } from "./health.ts";
import { accessLogInterceptor } from "./interceptors/access-log.ts";
import { authInterceptor, type Authenticate } from "./interceptors/auth.ts";
import { DEFAULT_TIMEOUT_MS, deadlineInterceptor } from "./interceptors/deadline.ts";
import { errorInterceptor } from "./interceptors/errors.ts";
import { validationInterceptor } from "./interceptors/validation.ts";
import { createLogger, type Logger } from "./log.ts";
import { DualProtocolListener } from "./protocol-sniffer.ts";
import { methodReadMaxBytes } from "./request-size.ts";
import { createRpcHandler, DEFAULT_READ_MAX_BYTES, endUnreadUploads, markIntercepted } from "./rpc-handler.ts";
import { heartbeatIntervalKey } from "./stream-heartbeats.ts";
import { rpcServerTelemetry } from "./telemetry/rpc-server-telemetry.ts";
import type { ServiceTelemetry } from "./telemetry/service-telemetry.ts";
import {
  createReflectionV1,
  createReflectionV1Alpha,
  DescriptorIndex,
  ServerReflection,
  ServerReflectionV1Alpha,
} from "./reflection.ts";

export interface ServiceRegistration {
  readonly service: DescService;
  /** An implementation of `service`; build it with implement() to have it type-checked. */
  readonly impl: object;
}

/** Pairs a service with its implementation, checked against the contract. */
export function implement<S extends DescService>(service: S, impl: ServiceImpl<S>): ServiceRegistration {
  return { service, impl };
}

export interface ServerOptions {
  /** Service name, used in logs. */
  name: string;
  /** h2c port for gRPC, gRPC-Web and Connect; 0 picks a free one. */
  port: number;
  /** Defaults to 127.0.0.1; 0.0.0.0 in containers. */
  host?: string;
  /** Also serve HTTP/1.1 here (Connect and gRPC-Web only; gRPC needs HTTP/2). */
  http1Port?: number;
  /**
   * Also serve HTTP/1.1 on `port` itself, next to h2c, each connection told
   * apart by its first bytes (the gateway: browsers and gRPC clients on one
   * origin). Excludes http1Port.
   */
  http1OnSamePort?: boolean;
  /**
   * Wraps the Connect request handler for every request on every listener,
   * e.g. to add CORS or to answer paths that are not RPCs (the gateway's web
   * app and JWKS). Requests it passes on reach the RPC routes unchanged.
   */
  httpHandler?: (rpc: HttpHandler) => HttpHandler;
  /**
   * Cache-Control for the successful Connect GET answers of a method, which
   * then also get an ETag and 304s (conditional-get.ts); undefined for a
   * method: no caching headers. Default: none for any method.
   */
  httpCaching?: HttpCachingPolicy;
  services: readonly ServiceRegistration[];
  /** Extra interceptors, run after auth and validation, right before the handler. */
  interceptors?: readonly Interceptor[];
  /** Resolves the caller of each RPC; see interceptors/auth.ts. */
  authenticate?: Authenticate;
  /** Deadline for unary and client-streaming calls without a shorter client deadline. */
  defaultTimeoutMs?: number;
  /** How long stop() waits for in-flight calls before cutting them off. */
  drainTimeoutMs?: number;
  /** Silence after which a Watch stream sends a heartbeat (see stream-heartbeats.ts). */
  streamHeartbeatMs?: number;
  logger?: Logger;
  validator?: Validator;
  /** Server spans and RPC metrics for the services' calls (not health or reflection). */
  telemetry?: ServiceTelemetry;
  /**
   * Largest request message (after decompression) in bytes; larger ones are
   * refused with ResourceExhausted before they are read. Default 4 MiB. Each
   * of the services' methods reads at most what its contract allows (at
   * least 64 KiB; see request-size.ts), never more than this.
   */
  readMaxBytes?: number;
}

/** A request listener for both the http and the http2 (compatibility API) servers. */
export type HttpHandler = (
  req: http.IncomingMessage | http2.Http2ServerRequest,
  res: http.ServerResponse | http2.Http2ServerResponse,
) => void;

export interface RunningServer {
  readonly name: string;
  readonly host: string;
  readonly port: number;
  readonly http1Port: number | undefined;
  /** Base URL of the h2c listener, e.g. http://127.0.0.1:7002 */
  readonly url: string;
  readonly health: HealthRegistry;
  /**
   * Graceful shutdown: health NOT_SERVING, stop accepting, let in-flight calls
   * finish (bounded by drainTimeoutMs), end Watch streams, close connections.
   * Idempotent. A plain function: handed to signal handlers as is.
   */
  readonly stop: () => Promise<void>;
}

const neverAborted = new AbortController().signal;

/**
 * Aborted when the server starts draining. Long-lived streams (order Watch,
 * notification Watch) end on it so they do not hold shutdown up until the
 * drain timeout; unary handlers ignore it and simply finish.
 */
export const drainSignalKey = createContextKey<AbortSignal>(neverAborted, {
  description: "aborted when the server starts draining",
});

export async function startServer(options: ServerOptions): Promise<RunningServer> {
  const host = options.host ?? "127.0.0.1";
  const logger = options.logger ?? createLogger(options.name);
  const drainTimeoutMs = options.drainTimeoutMs ?? 10_000;
  const health = new HealthRegistry(options.services.map((s) => s.service.typeName));
  const draining = new AbortController();
  // Aborts every handler's ctx.signal; used only once the drain timeout is up.
  const hardStop = new AbortController();

  // First is outermost: telemetry and the access log see the final,
  // normalised code; the access log runs inside the server span, so its line
  // carries the trace id.
  const appInterceptors: Interceptor[] = [
    markIntercepted,
    ...(options.telemetry ? [rpcServerTelemetry(options.telemetry)] : []),
    accessLogInterceptor(logger),
    errorInterceptor(logger),
    deadlineInterceptor(options.defaultTimeoutMs ?? DEFAULT_TIMEOUT_MS),
    authInterceptor(options.authenticate),
    validationInterceptor(options.validator),
    ...(options.interceptors ?? []),
  ];
  // Health probes arrive every few seconds and reflection is a debugging aid:
  // neither is access-logged, validated or authenticated.
  const platformInterceptors: Interceptor[] = [markIntercepted, errorInterceptor(logger)];

  const index = new DescriptorIndex([
    ...options.services.map((s) => s.service),
    Health,
    ServerReflection,
    ServerReflectionV1Alpha,
  ]);
  const readMaxBytes = options.readMaxBytes ?? DEFAULT_READ_MAX_BYTES;
  const handler = createRpcHandler({
    readMaxBytes,
    httpCaching: options.httpCaching,
    shutdownSignal: hardStop.signal,
    contextValues: () => {
      const values = createContextValues().set(drainSignalKey, draining.signal);
      return options.streamHeartbeatMs === undefined
        ? values
        : values.set(heartbeatIntervalKey, options.streamHeartbeatMs);
    },
    routes(router) {
      // One route per method, each with the read limit its contract allows
      // (see request-size.ts); the server-wide limit is the ceiling.
      for (const { service, impl } of options.services) {
        const spec = createServiceImplSpec(service, impl as Partial<ServiceImpl<typeof service>>);
        for (const method of service.methods) {
          router.rpc(method, spec.methods[method.localName].impl as never, {
            interceptors: appInterceptors,
            readMaxBytes: methodReadMaxBytes(method, readMaxBytes),
          });
        }
      }
      router.service(Health, createHealthService(health), { interceptors: platformInterceptors });
      router.service(ServerReflection, createReflectionV1(index), { interceptors: platformInterceptors });
      router.service(ServerReflectionV1Alpha, createReflectionV1Alpha(index), { interceptors: platformInterceptors });
    },
  });

  if (options.http1OnSamePort && options.http1Port !== undefined) {
    throw new Error("startServer: http1OnSamePort and http1Port exclude each other");
  }
  const requestHandler = endUnreadUploads(options.httpHandler ? options.httpHandler(handler) : handler);
  const h2 = http2.createServer(requestHandler);
  const sessions = new Set<http2.ServerHttp2Session>();
  h2.on("session", (session) => {
    sessions.add(session);
    session.once("close", () => sessions.delete(session));
  });
  const wantsHttp1 = options.http1Port !== undefined || options.http1OnSamePort === true;
  const h1 = wantsHttp1 ? http.createServer(requestHandler) : undefined;
  const shared = options.http1OnSamePort && h1 ? new DualProtocolListener(h2, h1) : undefined;

  try {
    if (shared) await shared.listen(options.port, host);
    else await listen(h2, options.port, host);
    if (h1 && !shared && options.http1Port !== undefined) await listen(h1, options.http1Port, host);
  } catch (err) {
    h2.close();
    shared?.server.close();
    throw err;
  }
  const port = ((shared?.server ?? h2).address() as AddressInfo).port;
  const http1Port = shared ? port : h1 ? (h1.address() as AddressInfo).port : undefined;
  logger.info({ host, port, http1Port, services: index.services() }, "listening");

  let stopping: Promise<void> | undefined;
  const stop = () => (stopping ??= shutdown());

  async function shutdown(): Promise<void> {
    const started = Date.now();
    logger.info({ drainTimeoutMs }, "draining");
    health.setAll(ServingStatus.NOT_SERVING);
    draining.abort();
    health.close();
    // With a shared port neither h2 nor h1 listens: the shared listener
    // resolves once every connection of both protocols has closed.
    const closed = shared
      ? shared.close()
      : Promise.all([
          new Promise<void>((resolve) => h2.close(() => resolve())),
          h1 ? new Promise<void>((resolve) => h1.close(() => resolve())) : undefined,
        ]);
    // GOAWAY: clients open no new streams here; in-flight streams complete,
    // then each session closes its socket.
    for (const session of sessions) session.close();
    h1?.closeIdleConnections();

    let timer: NodeJS.Timeout | undefined;
    const timedOut = await Promise.race([
      closed.then(() => false),
      new Promise<boolean>((resolve) => (timer = setTimeout(() => resolve(true), drainTimeoutMs))),
    ]);
    clearTimeout(timer);
    if (timedOut) {
      logger.warn({ openSessions: sessions.size }, "drain timeout: cancelling remaining calls");
      hardStop.abort();
      for (const session of sessions) session.destroy();
      h1?.closeAllConnections();
      shared?.destroyHttp1();
      await closed;
    }
    logger.info({ durationMs: Date.now() - started }, "stopped");
  }

  return {
    name: options.name,
    host,
    port,
    http1Port,
    url: `http://${host.includes(":") ? `[${host}]` : host}:${port}`,
    health,
    stop,
  };
}

function listen(server: http.Server | http2.Http2Server, port: number, host: string): Promise<void> {
  return new Promise((resolve, reject) => {
    server.once("error", reject);
    server.listen(port, host, () => {
      server.off("error", reject);
      resolve();
    });
  });
}
