// mesh/istio: traffic and security policy for the deployables, generated from
// the manifests (who calls whom, which methods) and the contracts (which
// methods are safe to retry, which stream).
import type { IDestinationRule } from "@kubernetes-models/istio/networking.istio.io/v1/DestinationRule";
import type { IGateway } from "@kubernetes-models/istio/networking.istio.io/v1/Gateway";
import type { ISidecar } from "@kubernetes-models/istio/networking.istio.io/v1/Sidecar";
import type { IVirtualService } from "@kubernetes-models/istio/networking.istio.io/v1/VirtualService";
import type { ITelemetry } from "@kubernetes-models/istio/telemetry.istio.io/v1/Telemetry";
import type { IEnvoyFilter } from "@kubernetes-models/istio/networking.istio.io/v1alpha3/EnvoyFilter";
import type { IAuthorizationPolicy } from "@kubernetes-models/istio/security.istio.io/v1/AuthorizationPolicy";
import type { IPeerAuthentication } from "@kubernetes-models/istio/security.istio.io/v1/PeerAuthentication";
import type { IRequestAuthentication } from "@kubernetes-models/istio/security.istio.io/v1/RequestAuthentication";
import type { ServiceManifest } from "../../services/runtime/src/manifest.ts";
import { fqdn, meshConfig, principal } from "./config.ts";
import { calledMethods, isRetryable, isStreaming, methodPath, STANDARD_METHODS } from "./contracts.ts";
import { runningTracks, type ReleasePlan, type Track } from "./releases.ts";
import { commonLabels, ns } from "./workloads.ts";

export type HTTPRoute = NonNullable<NonNullable<IVirtualService["spec"]>["http"]>[number];
type Destination = NonNullable<HTTPRoute["route"]>[number];

/** The deployable that terminates browser and CLI traffic (the storefront API and the web app). */
export const EDGE = "gateway";
export const INGRESS_GATEWAY = "shop-gateway";

/** One routable method: its path and what the contract says about repeating and streaming it. */
export interface RouteMethod {
  path: string;
  /** NO_SIDE_EFFECTS or IDEMPOTENT in the contract. */
  retryable: boolean;
  /** Server, client or bidi streaming. */
  streaming: boolean;
}

/** Every method a deployable serves: its contracts, then health and reflection from services/runtime. */
export function routeMethods(m: ServiceManifest): RouteMethod[] {
  const methods: RouteMethod[] = [];
  for (const service of m.serves) {
    for (const method of service.methods) {
      methods.push({ path: methodPath(method), retryable: isRetryable(method), streaming: isStreaming(method) });
    }
  }
  const { health, reflection } = STANDARD_METHODS;
  for (const name of health.unary)
    methods.push({ path: `/${health.service}/${name}`, retryable: true, streaming: false });
  for (const name of health.streaming)
    methods.push({ path: `/${health.service}/${name}`, retryable: true, streaming: true });
  // Reflection is read-only but bidirectional: a retry would replay a half-sent stream, so only pre-request failures.
  for (const r of reflection) {
    for (const name of r.streaming) methods.push({ path: `/${r.service}/${name}`, retryable: false, streaming: true });
  }
  return methods;
}

/**
 * Timeout and retries for a method. Retrying after the request may have reached
 * the application is allowed only when the contract says repeating it is safe;
 * everything else is retried only on failures that prove it never got there.
 * Streams get no route timeout (they live as long as the client watches) and
 * no per-try timeout (it would cut a healthy stream).
 */
export function routePolicy(
  method: Pick<RouteMethod, "retryable" | "streaming">,
): Pick<HTTPRoute, "timeout" | "retries"> {
  const r = meshConfig.routes;
  const retries: NonNullable<HTTPRoute["retries"]> = method.retryable
    ? { attempts: r.retryAttempts, retryOn: r.idempotentRetryOn }
    : { attempts: r.retryAttempts, retryOn: r.unsafeRetryOn };
  if (method.retryable && !method.streaming) retries.perTryTimeout = r.perTryTimeout;
  return method.streaming ? { retries } : { timeout: r.unaryTimeout, retries };
}

function destination(m: ServiceManifest, subset: Track["name"], weight?: number): Destination {
  return {
    destination: { host: fqdn(m.name), subset, port: { number: m.port } },
    ...(weight === undefined ? {} : { weight }),
  };
}

/** Where a request without a routing header goes: the tracks with a weight, split by it. */
function defaultDestinations(m: ServiceManifest, plan: ReleasePlan): Destination[] {
  const weighted = runningTracks(m.name, plan).filter((t) => t.weight > 0);
  if (weighted.length === 1) return [destination(m, weighted[0].name)];
  return weighted.map((t) => destination(m, t.name, t.weight));
}

/** Tracks a routing header pins (a canary's v2, an idle blue-green colour that is up). */
function headerTracks(m: ServiceManifest, plan: ReleasePlan): (Track & { header: NonNullable<Track["header"]> })[] {
  return runningTracks(m.name, plan).filter((t): t is Track & { header: NonNullable<Track["header"]> } => !!t.header);
}

/** Routes for one method: one per header-pinned track first, then the default split. */
function methodRoutes(
  m: ServiceManifest,
  plan: ReleasePlan,
  method: RouteMethod,
  extra: Partial<HTTPRoute> = {},
): HTTPRoute[] {
  const policy = routePolicy(method);
  const routes: HTTPRoute[] = headerTracks(m, plan).map((t) => ({
    name: `${method.path.slice(1)}@${t.name}`,
    match: [{ uri: { exact: method.path }, headers: { [t.header.name]: { exact: t.header.value } } }],
    route: [destination(m, t.name)],
    ...policy,
    ...extra,
  }));
  routes.push({
    name: method.path.slice(1),
    match: [{ uri: { exact: method.path } }],
    route: defaultDestinations(m, plan),
    ...policy,
    ...extra,
  });
  return routes;
}

/** Anything not matched above (unknown methods: the service answers Unimplemented). */
function catchAllRoutes(m: ServiceManifest, plan: ReleasePlan, extra: Partial<HTTPRoute> = {}): HTTPRoute[] {
  const policy = routePolicy({ retryable: false, streaming: false });
  const routes: HTTPRoute[] = headerTracks(m, plan).map((t) => ({
    name: `default@${t.name}`,
    match: [{ headers: { [t.header.name]: { exact: t.header.value } } }],
    route: [destination(m, t.name)],
    ...policy,
    ...extra,
  }));
  routes.push({ name: "default", route: defaultDestinations(m, plan), ...policy, ...extra });
  return routes;
}

export function virtualService(m: ServiceManifest, plan: ReleasePlan): IVirtualService {
  return {
    apiVersion: "networking.istio.io/v1",
    kind: "VirtualService",
    metadata: { name: m.name, namespace: ns, labels: commonLabels(m.name) },
    spec: {
      hosts: [fqdn(m.name)],
      http: [...routeMethods(m).flatMap((method) => methodRoutes(m, plan, method)), ...catchAllRoutes(m, plan)],
    },
  };
}

export function destinationRule(m: ServiceManifest, plan: ReleasePlan): IDestinationRule {
  const { budgetPercent, minRetryConcurrency } = meshConfig.retryBudget;
  return {
    apiVersion: "networking.istio.io/v1",
    kind: "DestinationRule",
    metadata: { name: m.name, namespace: ns, labels: commonLabels(m.name) },
    spec: {
      host: fqdn(m.name),
      trafficPolicy: {
        // HTTP/2 multiplexes every call on few connections: balance per request, towards the least busy pod.
        loadBalancer: { simple: "LEAST_REQUEST" },
        connectionPool: {
          tcp: { maxConnections: 100, connectTimeout: "2s" },
          http: { http2MaxRequests: 2048, http1MaxPendingRequests: 1024 },
        },
        // Concurrent retries limited to a share of the requests in flight (see config.ts).
        retryBudget: { percent: budgetPercent, minRetryConcurrency },
        // Only the pod's own failures eject it, and never the last healthy half (see config.ts).
        outlierDetection: { splitExternalLocalOriginErrors: true, ...meshConfig.outlierDetection },
      },
      // A subset per track that has pods: routing to one without would answer 503.
      subsets: runningTracks(m.name, plan).map((t) => ({ name: t.name, labels: { version: t.name } })),
    },
  };
}

/** Namespace-wide STRICT mTLS, and the one plaintext exception: istiod fetching the JWKS. */
export function peerAuthentications(gateway: ServiceManifest): IPeerAuthentication[] {
  return [
    {
      apiVersion: "security.istio.io/v1",
      kind: "PeerAuthentication",
      metadata: { name: "default", namespace: ns },
      spec: { mtls: { mode: "STRICT" } },
    },
    {
      apiVersion: "security.istio.io/v1",
      kind: "PeerAuthentication",
      metadata: { name: `${gateway.name}-jwks`, namespace: ns, labels: commonLabels(gateway.name) },
      spec: {
        selector: { matchLabels: { app: gateway.name } },
        mtls: { mode: "STRICT" },
        // istiod (outside the mesh) fetches the JWKS for RequestAuthentication over plain HTTP.
        // Plaintext peers carry no principal, so allow-jwks below is the only rule they can match.
        portLevelMtls: { [String(gateway.port)]: { mode: "PERMISSIVE" } },
      },
    },
  ];
}

/** The mesh-wide default, for clusters the shop owns (overlays include it via istio/mesh-wide). */
export function meshWidePeerAuthentication(): IPeerAuthentication {
  return {
    apiVersion: "security.istio.io/v1",
    kind: "PeerAuthentication",
    metadata: { name: "default", namespace: "istio-system" },
    spec: { mtls: { mode: "STRICT" } },
  };
}

export function defaultDeny(): IAuthorizationPolicy {
  return {
    apiVersion: "security.istio.io/v1",
    kind: "AuthorizationPolicy",
    metadata: { name: "default-deny", namespace: ns },
    // An ALLOW policy without rules matches nothing: every workload in the namespace denies by default.
    spec: {},
  };
}

/** One ALLOW per declared dependency: the caller's identity, the callee's port, the methods it declared. */
export function dependencyPolicies(manifests: readonly ServiceManifest[]): IAuthorizationPolicy[] {
  const byName = new Map(manifests.map((m) => [m.name, m]));
  const policies: IAuthorizationPolicy[] = [];
  for (const caller of manifests) {
    for (const [calleeName, dep] of Object.entries(caller.dependsOn)) {
      const callee = byName.get(calleeName);
      if (!callee) throw new Error(`${caller.name} depends on unknown ${calleeName}`);
      const paths = calledMethods(dep).map(methodPath);
      policies.push({
        apiVersion: "security.istio.io/v1",
        kind: "AuthorizationPolicy",
        metadata: { name: `allow-${caller.name}-to-${callee.name}`, namespace: ns, labels: commonLabels(callee.name) },
        spec: {
          selector: { matchLabels: { app: callee.name } },
          action: "ALLOW",
          rules: [
            {
              from: [{ source: { principals: [principal(caller.name)] } }],
              to: [{ operation: { ports: [String(callee.port)], paths } }],
            },
          ],
        },
      });
    }
  }
  return policies;
}

export function jwksUri(gateway: ServiceManifest): string {
  return `http://${fqdn(gateway.name)}:${gateway.port}${meshConfig.jwksPath}`;
}

export function requestAuthentication(gateway: ServiceManifest): IRequestAuthentication {
  return {
    apiVersion: "security.istio.io/v1",
    kind: "RequestAuthentication",
    metadata: { name: `${gateway.name}-jwt`, namespace: ns, labels: commonLabels(gateway.name) },
    spec: {
      selector: { matchLabels: { app: gateway.name } },
      jwtRules: [
        {
          issuer: meshConfig.jwt.issuer,
          audiences: [meshConfig.jwt.audience],
          jwksUri: jwksUri(gateway),
          // The gateway and the services behind it verify the token themselves: pass it on.
          forwardOriginalToken: true,
        },
      ],
    },
  };
}

/** The storefront service the edge serves, and its public / token-only method paths. */
export function storefrontPaths(gateway: ServiceManifest): { service: string; public: string[]; all: string[] } {
  if (gateway.serves.length !== 1) throw new Error(`${gateway.name} must serve exactly one API`);
  const [storefront] = gateway.serves;
  const publicMethods = (gateway.publicMethods ?? []).map((localName) => {
    const method = storefront.methods.find((m) => m.localName === localName);
    if (!method) throw new Error(`public method ${localName} is not in ${storefront.typeName}`);
    return method;
  });
  return {
    service: storefront.typeName,
    public: publicMethods.map(methodPath),
    all: storefront.methods.map(methodPath),
  };
}

export function edgePolicies(gateway: ServiceManifest): IAuthorizationPolicy[] {
  const paths = storefrontPaths(gateway);
  const ingress = { source: { principals: [meshConfig.ingress.principal] } };
  const port = String(gateway.port);
  return [
    {
      apiVersion: "security.istio.io/v1",
      kind: "AuthorizationPolicy",
      metadata: { name: `allow-ingress-to-${gateway.name}`, namespace: ns, labels: commonLabels(gateway.name) },
      spec: {
        selector: { matchLabels: { app: gateway.name } },
        action: "ALLOW",
        rules: [
          // Every storefront method. The gateway itself answers Unauthenticated (HTTP 401) for a method
          // that needs a token and has none; denying it here would answer 403, which tells the client
          // nothing about signing in. A token that is present is verified at the edge by
          // RequestAuthentication (an invalid one gets 401 from the ingress) and again by the gateway.
          { from: [ingress], to: [{ operation: { ports: [port], paths: [`/${paths.service}/*`] } }] },
          // CORS preflight (browsers send it without credentials).
          { from: [ingress], to: [{ operation: { ports: [port], methods: ["OPTIONS"] } }] },
          // The web app: static files and client-side routes, never an RPC path.
          {
            from: [ingress],
            to: [
              {
                operation: {
                  ports: [port],
                  methods: ["GET", "HEAD"],
                  notPaths: meshConfig.rpcPathPrefixes.map((p) => `${p}*`),
                },
              },
            ],
          },
        ],
      },
    },
    {
      apiVersion: "security.istio.io/v1",
      kind: "AuthorizationPolicy",
      metadata: { name: "allow-jwks", namespace: ns, labels: commonLabels(gateway.name) },
      spec: {
        selector: { matchLabels: { app: gateway.name } },
        action: "ALLOW",
        // Public keys, fetched by istiod for RequestAuthentication (from outside the mesh).
        rules: [{ to: [{ operation: { ports: [port], methods: ["GET"], paths: [meshConfig.jwksPath] } }] }],
      },
    },
  ];
}

export function ingressGateway(): IGateway {
  return {
    apiVersion: "networking.istio.io/v1",
    kind: "Gateway",
    metadata: { name: INGRESS_GATEWAY, namespace: ns, labels: { "app.kubernetes.io/part-of": meshConfig.partOf } },
    spec: {
      selector: { ...meshConfig.ingress.selector },
      servers: [{ port: { number: 80, name: "http", protocol: "HTTP" }, hosts: [...meshConfig.ingress.hosts] }],
    },
  };
}

/**
 * The way in. CORS is the gateway's (CORS_ORIGINS in the ConfigMap
 * shop-config, set per overlay), not a corsPolicy here: one list per
 * environment instead of one per route, and the same answer with or
 * without the mesh.
 */
export function ingressVirtualService(gateway: ServiceManifest, plan: ReleasePlan): IVirtualService {
  const storefront = gateway.serves.flatMap((s) =>
    s.methods.map((method): RouteMethod => ({
      path: methodPath(method),
      retryable: isRetryable(method),
      streaming: isStreaming(method),
    })),
  );
  const jwks: RouteMethod = { path: meshConfig.jwksPath, retryable: true, streaming: false };
  return {
    apiVersion: "networking.istio.io/v1",
    kind: "VirtualService",
    metadata: { name: `${gateway.name}-ingress`, namespace: ns, labels: commonLabels(gateway.name) },
    spec: {
      hosts: [...meshConfig.ingress.hosts],
      gateways: [INGRESS_GATEWAY],
      http: [
        ...[...storefront, jwks].flatMap((method) => methodRoutes(gateway, plan, method)),
        // The web app (and anything else: the gateway's policy decides).
        ...catchAllRoutes(gateway, plan),
      ],
    },
  };
}

const HCM = "envoy.filters.network.http_connection_manager";

/**
 * A token bucket per gateway pod. gRPC and gRPC-Web clients get
 * RESOURCE_EXHAUSTED (grpc-status 8) instead of Envoy's default UNAVAILABLE;
 * Connect clients, which read the code from the JSON body of the HTTP 429,
 * get `{"code":"resource_exhausted"}`.
 */
export function rateLimit(gateway: ServiceManifest): IEnvoyFilter {
  const { maxTokens, tokensPerFill, fillInterval } = meshConfig.rateLimit;
  const always = (runtimeKey: string) => ({
    runtime_key: runtimeKey,
    default_value: { numerator: 100, denominator: "HUNDRED" },
  });
  return {
    apiVersion: "networking.istio.io/v1alpha3",
    kind: "EnvoyFilter",
    metadata: { name: `${gateway.name}-local-rate-limit`, namespace: ns, labels: commonLabels(gateway.name) },
    spec: {
      workloadSelector: { labels: { app: gateway.name } },
      configPatches: [
        {
          applyTo: "HTTP_FILTER",
          match: { context: "SIDECAR_INBOUND", listener: { filterChain: { filter: { name: HCM } } } },
          patch: {
            operation: "INSERT_BEFORE",
            value: {
              name: "envoy.filters.http.local_ratelimit",
              typed_config: {
                "@type": "type.googleapis.com/envoy.extensions.filters.http.local_ratelimit.v3.LocalRateLimit",
                stat_prefix: "http_local_rate_limiter",
                token_bucket: { max_tokens: maxTokens, tokens_per_fill: tokensPerFill, fill_interval: fillInterval },
                filter_enabled: always("local_rate_limit_enabled"),
                filter_enforced: always("local_rate_limit_enforced"),
                rate_limited_as_resource_exhausted: true,
                response_headers_to_add: [
                  { append_action: "OVERWRITE_IF_EXISTS_OR_ADD", header: { key: "x-local-rate-limit", value: "true" } },
                ],
              },
            },
          },
        },
        {
          applyTo: "NETWORK_FILTER",
          match: { context: "SIDECAR_INBOUND", listener: { filterChain: { filter: { name: HCM } } } },
          patch: {
            operation: "MERGE",
            value: {
              typed_config: {
                "@type":
                  "type.googleapis.com/envoy.extensions.filters.network.http_connection_manager.v3.HttpConnectionManager",
                local_reply_config: {
                  mappers: [
                    {
                      filter: {
                        and_filter: {
                          filters: [
                            {
                              status_code_filter: {
                                comparison: {
                                  op: "EQ",
                                  value: { default_value: 429, runtime_key: "local_reply_rate_limited" },
                                },
                              },
                            },
                            { header_filter: { header: { name: "connect-protocol-version", present_match: true } } },
                          ],
                        },
                      },
                      body_format_override: {
                        json_format: { code: "resource_exhausted", message: "rate limit exceeded, retry later" },
                        content_type: "application/json",
                      },
                    },
                  ],
                },
              },
            },
          },
        },
      ],
    },
  };
}

/**
 * Egress scoping: each workload's sidecar is told about the services it
 * declares it calls, the dev infrastructure, and Istio's own namespace, not
 * about every service in the mesh (less configuration per proxy, and a call
 * to an undeclared service leaves as plain TCP, which STRICT mTLS and the
 * AuthorizationPolicies refuse). Outbound traffic to hosts outside the
 * registry stays allowed (ALLOW_ANY), because a real cluster's Postgres or
 * NATS may be a managed service with no ServiceEntry; the prod overlay adds
 * the namespaces its NATS and collector live in.
 */
export function sidecars(manifests: readonly ServiceManifest[]): ISidecar[] {
  return manifests.map((m) => ({
    apiVersion: "networking.istio.io/v1",
    kind: "Sidecar",
    metadata: { name: m.name, namespace: ns, labels: commonLabels(m.name) },
    spec: {
      workloadSelector: { labels: { app: m.name } },
      egress: [
        {
          hosts: [
            ...Object.keys(m.dependsOn).map((dep) => `./${fqdn(dep)}`),
            ...(m.publishes.length + m.consumes.length > 0 ? [`./${fqdn("nats")}`] : []),
            ...(m.database ? [`./${fqdn("postgres")}`] : []),
            `./${fqdn("otel-collector")}`,
            "istio-system/*",
          ],
        },
      ],
    },
  }));
}

/** Name of the OpenTelemetry tracing provider the Istio install defines (mesh/README.md). */
export const TRACING_PROVIDER = "shop-otel";

/** Envoy spans from every sidecar in the namespace, to the provider above (the OTel collector). */
export function tracingTelemetry(): ITelemetry {
  return {
    apiVersion: "telemetry.istio.io/v1",
    kind: "Telemetry",
    metadata: { name: "tracing", namespace: ns, labels: { "app.kubernetes.io/part-of": meshConfig.partOf } },
    spec: { tracing: [{ providers: [{ name: TRACING_PROVIDER }], randomSamplingPercentage: 100 }] },
  };
}

/**
 * Retries need the request body: a sidecar holds it (up to this limit) until
 * the call succeeds. Envoy's default, 1 MiB, is below what the services
 * accept (4 MiB), so larger requests would silently lose their retries; the
 * limit here is the services' own (meshConfig.requestBufferLimitBytes).
 */
export function requestBufferLimits(): IEnvoyFilter {
  return {
    apiVersion: "networking.istio.io/v1alpha3",
    kind: "EnvoyFilter",
    metadata: {
      name: "request-buffer-limits",
      namespace: ns,
      labels: { "app.kubernetes.io/part-of": meshConfig.partOf },
    },
    spec: {
      configPatches: [
        {
          applyTo: "VIRTUAL_HOST",
          match: { context: "SIDECAR_OUTBOUND" },
          patch: { operation: "MERGE", value: { per_request_buffer_limit_bytes: meshConfig.requestBufferLimitBytes } },
        },
      ],
    },
  };
}
