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

  /** Services that run a second track (`version: v2`) and the share of traffic it gets. */
  canary: { catalog: 10, order: 10 } as Record<string, number>,
  /** Requests carrying this header with value "v2" always go to the v2 track. */
  canaryHeader: "x-canary",

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
    /** Origins allowed to call the API cross-origin (the web app itself is same-origin). */
    corsOrigins: ["http://localhost:5173", "http://localhost:8080"],
  },

  /** Storefront methods callable without an access token; everything else needs one. */
  publicStorefrontMethods: ["SignUp", "SignIn", "ListCategories", "ListProducts", "SearchProducts", "GetProduct"],
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

  /** Route policy by method class (see istio.ts). */
  routes: {
    unaryTimeout: "15s",
    retryAttempts: 3,
    perTryTimeout: "5s",
    /** Retried only for NO_SIDE_EFFECTS / IDEMPOTENT methods: the call may have reached the server. */
    idempotentRetryOn: "5xx,reset,connect-failure,refused-stream,unavailable,cancelled,retriable-status-codes",
    /** For every other method: only failures that prove the request never reached the application. */
    unsafeRetryOn: "connect-failure,refused-stream,reset-before-request",
  },

  /** Pod resources; overlays scale them. */
  resources: {
    requests: { cpu: "50m", memory: "128Mi" },
    limits: { cpu: "1", memory: "512Mi" },
  },
  replicas: 2,
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

/** Tracks (version labels) a service runs. */
export function versionsOf(service: string): ("v1" | "v2")[] {
  return service in meshConfig.canary ? ["v1", "v2"] : ["v1"];
}
