// Everything about the deployment that is not in the contracts or the service
// manifests: one place for the names, numbers and policies the generated
// Kubernetes and Istio YAML is made from. Overlays (mesh/overlays/*) change
// replicas, images, hosts and resources; anything that must agree between
// workloads and Istio (namespace, identities, issuer, ports) lives here only.

import { DEFAULT_READ_MAX_BYTES } from "../../services/runtime/src/rpc-handler.ts";

export const meshConfig = {
  /** Namespace of every workload. Baked into SPIFFE principals and hostnames, so not a kustomize transform. */
  namespace: "shop",
  /** Istio trust domain (the default install uses cluster.local). */
  trustDomain: "cluster.local",
  /** Label value for app.kubernetes.io/part-of on everything we deploy. */
  partOf: "shop",
  /** Container image of a service, before an overlay's `images:` rewrite (Tilt builds these names). */
  image: (service: string) => `shop-${service}`,
  /** Working directory of the service image (see Dockerfile). */
  workdir: "/app",
  /** UID/GID of the `node` user in node:24-slim. */
  uid: 1000,

  /** Release tracks (canary, blue-green) come from mesh/releases.json: see releases.ts. */

  /** Access tokens: must match what identity signs and every service verifies (services/runtime/src/tokens.ts). */
  jwt: { issuer: "shop-identity", audience: "shop" },
  /** Where the gateway publishes the JWKS (plain JSON, for the mesh's RequestAuthentication). */
  jwksPath: "/.well-known/jwks.json",

  ingress: {
    /** The Istio ingress gateway deployment our Gateway binds to (default/demo install profile). */
    selector: { istio: "ingressgateway" },
    /** Its identity, the only peer allowed to call the gateway from outside the namespace. */
    principal: "cluster.local/ns/istio-system/sa/istio-ingressgateway-service-account",
    hosts: ["*"],
  },
  /**
   * How often istiod re-reads the JWKS of a RequestAuthentication
   * (PILOT_JWT_PUB_KEY_REFRESH_INTERVAL; Istio's default is 20 minutes).
   * identity publishes a new signing key this long, plus the gateway's JWKS
   * cache time, before it signs with it (KEY_PUBLISH_LEAD_SECONDS).
   */
  meshJwksRefreshSeconds: 20 * 60,

  /** Storefront methods callable without an access token: the gateway manifest's publicMethods. */
  /** Paths of the web app the gateway serves (GET/HEAD, no token): anything that is not an RPC path. */
  rpcPathPrefixes: ["/shop.", "/grpc."],

  /**
   * How much of a request body a sidecar may hold to retry it: the services'
   * own request limit (READ_MAX_BYTES, services/runtime/src/rpc-handler.ts),
   * so every request a service accepts stays retryable. Envoy streams bodies
   * and never buffers more; the services refuse larger ones themselves.
   */
  requestBufferLimitBytes: DEFAULT_READ_MAX_BYTES,

  /** Local rate limit at the gateway's sidecar: a token bucket per pod. */
  rateLimit: { maxTokens: 200, tokensPerFill: 100, fillInterval: "1s" },

  /**
   * Route policy by method class (see istio.ts). Calls between services use
   * the Connect protocol, so a failure is an HTTP status, not a gRPC status
   * in a header: Envoy's gRPC retry conditions (unavailable, cancelled...)
   * never match, and `5xx` would also repeat 501 (Unimplemented), 500
   * (Internal) and 504 (DeadlineExceeded, the caller's deadline: repeating
   * cannot help). So: 503 (Unavailable) and failures of the connection.
   */
  routes: {
    unaryTimeout: "15s",
    /** One retry per hop; the retry budget (below) bounds them across hops. */
    retryAttempts: 2,
    perTryTimeout: "5s",
    /** Retried only for NO_SIDE_EFFECTS / IDEMPOTENT methods: the call may have reached the server. */
    idempotentRetryOn: "connect-failure,refused-stream,reset,503",
    /** For every other method: only failures that prove the request never reached the application. */
    unsafeRetryOn: "connect-failure,refused-stream,reset-before-request",
  },
  /**
   * Envoy retry budget on every sidecar's outbound cluster to a shop service:
   * retries in flight may be at most this share of the requests in flight
   * (at least minRetryConcurrency), so under a failure each hop adds at most
   * 20 % load to the next and three hops at most 1.2^3 ≈ 1.7x, instead of
   * attempts multiplying (3 hops x 2 attempts = 8 for a single request).
   */
  retryBudget: { budgetPercent: 20, minRetryConcurrency: 3 },
  /**
   * Outlier detection. Only failures of the pod itself count (connection
   * refused or reset, timeouts: Envoy's locally originated errors): an
   * Unavailable or DeadlineExceeded a service passes up from its own
   * dependency says nothing about that pod. minHealthPercent is Envoy's
   * panic threshold: when fewer than half of a subset's pods are healthy
   * (a one-pod canary or dev subset whose pod was ejected), Envoy balances
   * over all of them instead of answering 503 for 30 s.
   */
  outlierDetection: {
    consecutiveLocalOriginFailures: 3,
    interval: "5s",
    baseEjectionTime: "30s",
    maxEjectionPercent: 50,
    minHealthPercent: 50,
  },

  /** Horizontal autoscaling of full-size tracks (mesh/autoscaling; the prod overlay includes it). */
  autoscaling: { minReplicas: 3, maxReplicas: 10, cpuUtilizationPercent: 70 },

  /** Where Prometheus runs in each environment: NetworkPolicies let it scrape the sidecars' merged metrics port. */
  prometheus: { namespace: "shop", podLabels: { app: "prometheus" } },

  /** Pod resources; overlays scale them. */
  resources: {
    requests: { cpu: "50m", memory: "128Mi" },
    limits: { cpu: "1", memory: "512Mi" },
  },
  terminationGracePeriodSeconds: 30,
  /** Seconds a terminating pod keeps serving while endpoints and sidecars learn it is gone. */
  preStopSleepSeconds: 5,
} as const;

export type MeshConfig = typeof meshConfig;

/** SPIFFE principal of a service account, as AuthorizationPolicy `principals` expects it. */
export function principal(serviceAccount: string, namespace: string = meshConfig.namespace): string {
  return `${meshConfig.trustDomain}/ns/${namespace}/sa/${serviceAccount}`;
}

/** Fully qualified in-cluster host name of a service. */
export function fqdn(service: string): string {
  return `${service}.${meshConfig.namespace}.svc.cluster.local`;
}
