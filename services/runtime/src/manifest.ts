// A service's manifest: the one declaration of what a deployable is. The
// runtime serves and connects from it, `npm start` launches from it, and the
// mesh generator writes Deployments, Services and AuthorizationPolicies from
// it, so code, launcher and mesh cannot disagree about names, ports or who may
// call whom.
import type { DescMessage, DescService } from "@bufbuild/protobuf";

/**
 * The methods of a service by `localName` ("getJwks"), as literal types when
 * the service is a generated descriptor (GenService), so a misspelt or
 * missing method in a manifest is a compile error.
 */
export type MethodName<S extends DescService> = Extract<keyof S["method"], string>;

/** A service this one calls, and the only methods it calls. */
export interface Dependency<S extends DescService = DescService, M extends string = MethodName<S>> {
  readonly service: S;
  /** Method names (`localName`s such as "getJwks"); the client has these and no others. */
  readonly methods: readonly M[];
}

export type DependencyMap = Readonly<Record<string, Dependency>>;

/** Each declared dependency checked against its own service: only methods it has. */
type CheckedDependencies<Deps extends DependencyMap> = {
  readonly [K in keyof Deps]: Dependency<Deps[K]["service"]>;
};

/** A method name of any of the services (distributes over a union). */
type MethodOfAny<S extends DescService> = S extends DescService ? MethodName<S> : never;

export interface ServiceManifest<
  Deps extends DependencyMap = DependencyMap,
  Publishes extends DescMessage = DescMessage,
  Consumes extends DescMessage = DescMessage,
  Serves extends DescService = DescService,
> {
  /** Deployable name: folder under services/, database name, service account. */
  readonly name: string;
  /** Default gRPC/Connect port (h2c); overridable with PORT. */
  readonly port: number;
  /** The Protobuf services this deployable serves (health and reflection come on top). */
  readonly serves: readonly Serves[];
  /**
   * Methods of `serves` (localNames) callable without an access token; every
   * other method needs one. The edge (gateway) authenticates from this list
   * and the mesh generator writes its RequestAuthentication rules from it.
   */
  readonly publicMethods?: readonly MethodOfAny<Serves>[];
  /** Services it calls; typed clients exist only for these methods. Keyed by the callee's deployable name. */
  readonly dependsOn: Deps;
  /** Events it publishes through its outbox: the outbox takes these and no others. */
  readonly publishes: readonly Publishes[];
  /** Events it consumes: its subscriptions cover exactly these (checked at start). */
  readonly consumes: readonly Consumes[];
  /** Whether it owns a Postgres database. */
  readonly database: boolean;
}

export function defineService<
  const Deps extends DependencyMap,
  Publishes extends DescMessage = never,
  Consumes extends DescMessage = never,
  Serves extends DescService = never,
>(
  manifest: ServiceManifest<Deps, Publishes, Consumes, Serves> & { readonly dependsOn: CheckedDependencies<Deps> },
): ServiceManifest<Deps, Publishes, Consumes, Serves> {
  return manifest;
}

/** The events a manifest publishes (e.g. the outbox a service's domain code takes). */
export type PublishedBy<M> = M extends { readonly publishes: readonly (infer P extends DescMessage)[] } ? P : never;

/** The events a manifest consumes. */
export type ConsumedBy<M> = M extends { readonly consumes: readonly (infer C extends DescMessage)[] } ? C : never;

export { addressVariable } from "./clients.ts";

/**
 * What every deployable runs, wherever it runs (npm start, the end-to-end
 * tests, the image, the Deployments): its bundle, built from
 * services/<name>/src/main.ts by `npm run build:services` (see
 * scripts/build-services.ts for why a bundle), relative to the repository
 * root (/app in the image).
 */
export function serviceBundle(name: string): string {
  return `services/${name}/dist/main.js`;
}

/**
 * The Node flags every deployable runs with: a small young generation and a
 * heap cap, so an idle service does not keep the memory V8 reserved while
 * loading it (measured on the catalog: 92 MB idle with them, 97 MB without).
 */
export const SERVICE_NODE_FLAGS = ["--max-semi-space-size=2", "--max-old-space-size=192"] as const;

/**
 * The same in a container (the images and the Deployments): the heap cap is
 * half of what the container may use (Node reads the cgroup's memory limit),
 * so an overlay that raises the memory limit raises the heap with it instead
 * of leaving it at 192 MB (512 Mi → 256 MB, 1 Gi → 512 MB).
 */
export const CONTAINER_NODE_FLAGS = ["--max-semi-space-size=2", "--max-old-space-size-percentage=50"] as const;

/**
 * Environment every deployable runs with unless already set. Two malloc
 * arenas instead of glibc's default of eight per core: V8's and libuv's
 * worker threads otherwise each keep an arena holding what start-up
 * compilation freed (measured on the catalog: 4-5 MB less resident idle).
 */
export const SERVICE_ENVIRONMENT: Readonly<Record<string, string>> = { MALLOC_ARENA_MAX: "2" };

/**
 * Where a deployable serves Prometheus metrics unless METRICS_PORT says
 * otherwise: its RPC port + 1000 (order 7004 → 8004, gateway 8080 → 9080),
 * so `npm start`'s distinct RPC ports give distinct metrics ports and the
 * mesh generator derives the same number. 0 (disabled) when that would not
 * be a valid port.
 */
export function defaultMetricsPort(rpcPort: number): number {
  const port = rpcPort + METRICS_PORT_OFFSET;
  return port <= 65535 ? port : 0;
}

export const METRICS_PORT_OFFSET = 1000;
