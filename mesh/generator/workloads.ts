// mesh/base: the namespace and, per deployable, its ServiceAccount, Service,
// Deployment(s) (one per track) and PodDisruptionBudget, all from the manifests.
import type { IDeployment } from "kubernetes-models/apps/v1/Deployment";
import type { IPodDisruptionBudget } from "kubernetes-models/policy/v1/PodDisruptionBudget";
import type { IConfigMap } from "kubernetes-models/v1/ConfigMap";
import type { IContainer } from "kubernetes-models/v1/Container";
import type { INamespace } from "kubernetes-models/v1/Namespace";
import type { IProbe } from "kubernetes-models/v1/Probe";
import type { IService } from "kubernetes-models/v1/Service";
import type { IServiceAccount } from "kubernetes-models/v1/ServiceAccount";
import {
  defaultMetricsPort,
  SERVICE_NODE_FLAGS,
  serviceBundle,
  type ServiceManifest,
} from "../../services/runtime/src/manifest.ts";
import { meshConfig, versionsOf } from "./config.ts";
import { deploymentEnv, SHARED_CONFIG_MAP, sharedConfigDefaults } from "./env.ts";

/** Name of the port every deployable serves RPCs on: gRPC, gRPC-Web and Connect over h2c. */
export const PORT_NAME = "grpc";

/** Name of the Prometheus scrape port (GET /metrics); `http-` tells Istio it is plain HTTP. */
export const METRICS_PORT_NAME = "http-metrics";
export const METRICS_PATH = "/metrics";

/** The metrics port a deployable serves on (the runtime's default rule, also set as METRICS_PORT). */
export function metricsPort(m: ServiceManifest): number {
  return defaultMetricsPort(m.port);
}

/**
 * Prometheus' scrape annotations. With Istio's default metrics merging the
 * sidecar agent scrapes this port on localhost and serves the app's metrics
 * with its own on :15020 (rewriting these annotations), so scraping works
 * under STRICT mTLS without an AuthorizationPolicy for the metrics port.
 */
export function scrapeAnnotations(m: ServiceManifest): Record<string, string> {
  return {
    "prometheus.io/scrape": "true",
    "prometheus.io/port": String(metricsPort(m)),
    "prometheus.io/path": METRICS_PATH,
  };
}

export const ns = meshConfig.namespace;

/** Component label values: overlays select our services (not the dev infrastructure) with them. */
export type Component = "service" | "dev-infra";

export function commonLabels(app: string, component: Component = "service"): Record<string, string> {
  return {
    app,
    "app.kubernetes.io/name": app,
    "app.kubernetes.io/component": component,
    "app.kubernetes.io/part-of": meshConfig.partOf,
  };
}

/** The command a Deployment runs: the service's bundle (built into the image) on the image's Node 24. */
export function serviceCommand(name: string): string[] {
  return ["node", ...SERVICE_NODE_FLAGS, serviceBundle(name)];
}

/** Sidecar settings: the app starts after the proxy and the proxy outlives the app's drain. */
export const PROXY_CONFIG = JSON.stringify({
  holdApplicationUntilProxyStarts: true,
  proxyMetadata: { EXIT_ON_ZERO_ACTIVE_CONNECTIONS: "true" },
});

export function namespace(): INamespace {
  return {
    apiVersion: "v1",
    kind: "Namespace",
    metadata: {
      name: ns,
      labels: { "istio-injection": "enabled", "app.kubernetes.io/part-of": meshConfig.partOf },
    },
  };
}

export function sharedConfig(): IConfigMap {
  return {
    apiVersion: "v1",
    kind: "ConfigMap",
    metadata: { name: SHARED_CONFIG_MAP, namespace: ns, labels: { "app.kubernetes.io/part-of": meshConfig.partOf } },
    data: { ...sharedConfigDefaults },
  };
}

export function serviceAccount(name: string, component: Component = "service"): IServiceAccount {
  return {
    apiVersion: "v1",
    kind: "ServiceAccount",
    metadata: { name, namespace: ns, labels: commonLabels(name, component) },
    // The sidecar gets its own projected token; the app never talks to the API server.
    automountServiceAccountToken: false,
  };
}

export function service(m: ServiceManifest): IService {
  return {
    apiVersion: "v1",
    kind: "Service",
    metadata: { name: m.name, namespace: ns, labels: commonLabels(m.name) },
    spec: {
      selector: { app: m.name },
      ports: [
        { name: PORT_NAME, port: m.port, targetPort: PORT_NAME, protocol: "TCP", appProtocol: "grpc" },
        {
          name: METRICS_PORT_NAME,
          port: metricsPort(m),
          targetPort: METRICS_PORT_NAME,
          protocol: "TCP",
          appProtocol: "http",
        },
      ],
    },
  };
}

function grpcProbe(port: number, periodSeconds: number, failureThreshold: number): IProbe {
  return { grpc: { port }, periodSeconds, failureThreshold, timeoutSeconds: 2 };
}

export function deployment(m: ServiceManifest, all: readonly ServiceManifest[], version: "v1" | "v2"): IDeployment {
  const labels = { ...commonLabels(m.name), version, "app.kubernetes.io/version": version };
  const container: IContainer = {
    name: m.name,
    image: meshConfig.image(m.name),
    imagePullPolicy: "IfNotPresent",
    workingDir: meshConfig.workdir,
    command: serviceCommand(m.name),
    ports: [
      { name: PORT_NAME, containerPort: m.port, protocol: "TCP" },
      { name: METRICS_PORT_NAME, containerPort: metricsPort(m), protocol: "TCP" },
    ],
    env: deploymentEnv(m, all, version),
    // Start-up applies migrations and connects to NATS: up to two minutes before liveness counts.
    startupProbe: grpcProbe(m.port, 2, 60),
    readinessProbe: grpcProbe(m.port, 5, 2),
    livenessProbe: grpcProbe(m.port, 10, 3),
    // Keep serving while the endpoint removal reaches every proxy; SIGTERM (drain) comes after.
    lifecycle: { preStop: { sleep: { seconds: meshConfig.preStopSleepSeconds } } },
    resources: structuredClone(meshConfig.resources) as IContainer["resources"],
    securityContext: {
      allowPrivilegeEscalation: false,
      readOnlyRootFilesystem: true,
      capabilities: { drop: ["ALL"] },
    },
    volumeMounts: [{ name: "tmp", mountPath: "/tmp" }],
  };
  return {
    apiVersion: "apps/v1",
    kind: "Deployment",
    metadata: { name: `${m.name}-${version}`, namespace: ns, labels },
    spec: {
      replicas: version === "v1" ? meshConfig.replicas : 1,
      revisionHistoryLimit: 5,
      selector: { matchLabels: { app: m.name, version } },
      strategy: { type: "RollingUpdate", rollingUpdate: { maxUnavailable: 0, maxSurge: 1 } },
      template: {
        metadata: {
          labels,
          annotations: { "proxy.istio.io/config": PROXY_CONFIG, ...scrapeAnnotations(m) },
        },
        spec: {
          serviceAccountName: m.name,
          automountServiceAccountToken: false,
          terminationGracePeriodSeconds: meshConfig.terminationGracePeriodSeconds + meshConfig.preStopSleepSeconds,
          securityContext: {
            runAsNonRoot: true,
            runAsUser: meshConfig.uid,
            runAsGroup: meshConfig.uid,
            fsGroup: meshConfig.uid,
            seccompProfile: { type: "RuntimeDefault" },
          },
          containers: [container],
          volumes: [{ name: "tmp", emptyDir: { sizeLimit: "64Mi" } }],
        },
      },
    },
  };
}

export function disruptionBudget(m: ServiceManifest): IPodDisruptionBudget {
  return {
    apiVersion: "policy/v1",
    kind: "PodDisruptionBudget",
    metadata: { name: m.name, namespace: ns, labels: commonLabels(m.name) },
    spec: { maxUnavailable: 1, selector: { matchLabels: { app: m.name } } },
  };
}

/** Everything mesh/base holds for one deployable. */
export function workloadResources(m: ServiceManifest, all: readonly ServiceManifest[]) {
  return [
    serviceAccount(m.name),
    service(m),
    ...versionsOf(m.name).map((v) => deployment(m, all, v)),
    disruptionBudget(m),
  ];
}
