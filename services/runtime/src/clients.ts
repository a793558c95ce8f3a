// Typed clients for a service's declared dependencies, and nothing else.
//
// A service declares whom it calls, and which methods, in its manifest
// (manifest.ts):
//
//   dependsOn: { identity: { service: IdentityService, methods: ["getJwks"] } }
//
// The same object is read by the mesh generator to emit the Istio
// AuthorizationPolicies, so code and mesh agree on who may call whom: a client
// here has the declared methods only (calling another is a compile error, and
// the method is not there at run time either), and the mesh would deny it.
//
// Calls use the Connect protocol over HTTP/2 with binary messages: Envoy reads
// gRPC status only from response headers while connect-node sends it in
// trailers; with Connect an Unavailable is a real HTTP 503 that Istio retries
// and outlier detection can see.
import type { DescService } from "@bufbuild/protobuf";
import { Code, ConnectError, createClient, type Client, type Interceptor } from "@connectrpc/connect";
import { createConnectTransport, Http2SessionManager } from "@connectrpc/connect-node";
import { ConfigError } from "./config.ts";
import { isOutage } from "./outages.ts";

/**
 * A manifest entry `{ service, methods }` (see manifest.ts), or a bare
 * service for a client with all its methods (tests and tools).
 */
export type DependencyDeclaration =
  DescService | { readonly service: DescService; readonly methods?: readonly string[] };

export type Dependencies = Readonly<Record<string, DependencyDeclaration>>;

/** The client for one declaration: only the declared methods when it lists them. */
export type DependencyClient<D> = D extends {
  readonly service: infer S extends DescService;
  readonly methods: readonly (infer M)[];
}
  ? Pick<Client<S>, M & keyof Client<S>>
  : D extends { readonly service: infer S extends DescService }
    ? Client<S>
    : D extends DescService
      ? Client<D>
      : never;

export type DependencyClients<D extends Dependencies> = { readonly [K in keyof D]: DependencyClient<D[K]> };

/** `catalog` -> `CATALOG_ADDR`; `userProfile` and `user-profile` -> `USER_PROFILE_ADDR`. */
export function addressVariable(dependency: string): string {
  return `${dependency
    .replace(/([a-z0-9])([A-Z])/g, "$1_$2")
    .replace(/[^A-Za-z0-9]+/g, "_")
    .toUpperCase()}_ADDR`;
}

export interface DependencyClientOptions {
  /** Where `<NAME>_ADDR` overrides are read from; defaults to process.env. */
  env?: Record<string, string | undefined>;
  /** E.g. tracing and credential forwarding, added by later layers. */
  interceptors?: Interceptor[];
  /** Deadline for calls that pass none; callers should pass ctx.signal. */
  defaultTimeoutMs?: number;
}

const sessionManagers = new WeakMap<object, Http2SessionManager[]>();

/**
 * One client per declared dependency. The address of each is `<NAME>_ADDR`
 * from the environment, else the caller's default, e.g.
 * `createDependencyClients(dependencies, { catalog: "http://127.0.0.1:7002" })`.
 */
export function createDependencyClients<D extends Dependencies>(
  dependencies: D,
  defaultAddresses: { readonly [K in keyof D]?: string },
  options: DependencyClientOptions = {},
): DependencyClients<D> {
  const env = options.env ?? process.env;
  const problems: string[] = [];
  const clients: Record<string, Partial<Client<DescService>>> = {};
  const managers: Http2SessionManager[] = [];
  for (const [name, declaration] of Object.entries(dependencies)) {
    const service = "service" in declaration ? declaration.service : declaration;
    const variable = addressVariable(name);
    const fromEnv = env[variable];
    const baseUrl = fromEnv || defaultAddresses[name];
    if (!baseUrl || !URL.canParse(baseUrl) || !/^https?:$/.test(new URL(baseUrl).protocol)) {
      problems.push(
        `${variable} must be an http(s) URL such as http://127.0.0.1:7002 (got ${JSON.stringify(baseUrl ?? "")})`,
      );
      continue;
    }
    // Our own session manager, so closeDependencyClients() can end the
    // connections instead of waiting for their idle timeout.
    const sessionManager = new Http2SessionManager(baseUrl);
    managers.push(sessionManager);
    const transport = createConnectTransport({
      httpVersion: "2",
      baseUrl,
      useBinaryFormat: true,
      sessionManager,
      interceptors: [...(options.interceptors ?? []), transportFailuresAsUnavailable(name)],
      defaultTimeoutMs: options.defaultTimeoutMs,
    });
    const client = createClient(service, transport);
    const methods = "service" in declaration ? declaration.methods : undefined;
    const unknown = methods?.filter((method) => !(method in client)) ?? [];
    if (unknown.length > 0) {
      problems.push(`${name}: ${service.typeName} has no method ${unknown.join(", ")}`);
      continue;
    }
    clients[name] = methods ? Object.fromEntries(methods.map((method) => [method, client[method]])) : client;
  }
  if (problems.length > 0) throw new ConfigError(problems);
  sessionManagers.set(clients, managers);
  return clients as unknown as DependencyClients<D>;
}

/** Closes the HTTP/2 connections of clients made by createDependencyClients. */
export function closeDependencyClients(clients: object): void {
  for (const manager of sessionManagers.get(clients) ?? []) manager.abort();
  sessionManagers.delete(clients);
}

/**
 * A dependency that dies mid-call (its connection reset, its stream
 * destroyed) surfaces from connect-node as Aborted or Internal with the
 * socket's text ("read ECONNRESET"). To our callers that is the dependency
 * being unavailable, which they may retry: Unavailable, with our own words.
 * Errors the dependency answered with (its own codes) pass unchanged.
 */
function transportFailuresAsUnavailable(dependency: string): Interceptor {
  // Not async: it runs on every downstream call, and only a failure needs work.
  return (next) => (req) =>
    next(req).catch((err: unknown) => {
      if (req.signal.aborted || !(err instanceof ConnectError)) throw err;
      const resetStream =
        /^http\/2 stream closed with error code (INTERNAL_ERROR|REFUSED_STREAM|CONNECT_ERROR|CANCEL)/.test(
          err.rawMessage,
        );
      if (resetStream || isOutage(err.cause)) {
        throw new ConnectError(
          `${dependency} is unavailable right now; try again`,
          Code.Unavailable,
          undefined,
          undefined,
          err,
        );
      }
      throw err;
    });
}
