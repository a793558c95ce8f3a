// mesh/base: the namespace and, per deployable, its ServiceAccount, Service,
// Deployment(s) (one per release track) and PodDisruptionBudget, all from the
// manifests and the release plan; mesh/autoscaling: the HorizontalPodAutoscalers.
import type { IDeployment } from "kubernetes-models/apps/v1/Deployment";
import type { IHorizontalPodAutoscaler } from "kubernetes-models/autoscaling/v2/HorizontalPodAutoscaler";
import type { IPodDisruptionBudget } from "kubernetes-models/policy/v1/PodDisruptionBudget";
import type { IConfigMap } from "kubernetes-models/v1/ConfigMap";
import type { IContainer } from "kubernetes-models/v1/Container";
import type { INamespace } from "kubernetes-models/v1/Namespace";
import type { IProbe } from "kubernetes-models/v1/Probe";
import type { IService } from "kubernetes-models/v1/Service";
import type { IServiceAccount } from "kubernetes-models/v1/ServiceAccount";
import {
  defaultMetricsPort,
  CONTAINER_NODE_FLAGS,
  serviceBundle,
  type ServiceManifest,
} from "../../services/runtime/src/manifest.ts";
import { meshConfig } from "./config.ts";
import { deploymentEnv, RELEASE_CONFIG_MAP, RELEASE_MOUNT, SHARED_CONFIG_MAP, sharedConfigDefaults } from "./env.ts";
import { eventTracks, tracksOf, type ReleasePlan, type Track, type TrackName } from "./releases.ts";

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
 * Prometheus' scrape annotations. With Istio's metrics merging (on by
 * default) the sidecar injector rewrites them to the agent's port 15020,
 * which serves these metrics together with Envoy's and is not behind the
 * sidecar: a Prometheus outside the mesh scrapes it under STRICT mTLS and
 * default-deny (the app's own port is not reachable that way, so the Service
 * does not offer it). The NetworkPolicies let Prometheus reach 15020.
 */
export function scrapeAnnotations(m: ServiceManifest): Record<string, string> {
  return {
    "prometheus.io/scrape": "true",
    "prometheus.io/port": String(metricsPort(m)),
    "prometheus.io/path": METRICS_PATH,
  };
}

/** The port of the sidecar agent's merged metrics (Istio's metrics merging). */
export const MERGED_METRICS_PORT = 15020;

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
  return ["node", ...CONTAINER_NODE_FLAGS, serviceBundle(name)];
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

/**
 * Which track of each service consumes events, read by the services at run
 * time (RELEASE_FILE, services/runtime/src/release-track.ts). Mounted as a
 * volume, not as environment: the kubelet updates the file in place, so a
 * blue-green switch moves the event-driven work without restarting a pod.
 */
export function releaseConfig(manifests: readonly ServiceManifest[], plan: ReleasePlan): IConfigMap {
  return {
    apiVersion: "v1",
    kind: "ConfigMap",
    metadata: { name: RELEASE_CONFIG_MAP, namespace: ns, labels: { "app.kubernetes.io/part-of": meshConfig.partOf } },
    data: {
      [RELEASE_MOUNT.file]: `${JSON.stringify(
        eventTracks(
          plan,
          manifests.map((m) => m.name),
        ),
        null,
        2,
      )}\n`,
    },
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
      ports: [{ name: PORT_NAME, port: m.port, targetPort: PORT_NAME, protocol: "TCP", appProtocol: "grpc" }],
    },
  };
}

function grpcProbe(port: number, periodSeconds: number, failureThreshold: number): IProbe {
  return { grpc: { port }, periodSeconds, failureThreshold, timeoutSeconds: 2 };
}

/**
 * The image of a track. Each track has its own image name, so an overlay pins
 * each one (a canary gets the new version, v1 keeps the old) by tag or digest.
 */
export function trackImage(service: string, track: TrackName): string {
  return track === "v1" ? meshConfig.image(service) : `${meshConfig.image(service)}-${track}`;
}

/** Replicas of a track's Deployment: unset for full size (the autoscaler's, else 1), 1 for a canary, 0 when down. */
function replicasOf(track: Track): number | undefined {
  return track.size === "full" ? undefined : track.size === "canary" ? 1 : 0;
}

export function deployment(m: ServiceManifest, all: readonly ServiceManifest[], track: Track): IDeployment {
  const version = track.name;
  const labels = { ...commonLabels(m.name), version, "app.kubernetes.io/version": version };
  const readsRelease = m.consumes.length > 0;
  const container: IContainer = {
    name: m.name,
    image: trackImage(m.name, version),
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
    // (The sleep action needs Kubernetes 1.30 or later.)
    lifecycle: { preStop: { sleep: { seconds: meshConfig.preStopSleepSeconds } } },
    resources: structuredClone(meshConfig.resources),
    securityContext: {
      allowPrivilegeEscalation: false,
      readOnlyRootFilesystem: true,
      capabilities: { drop: ["ALL"] },
    },
    volumeMounts: [
      { name: "tmp", mountPath: "/tmp" },
      ...(readsRelease ? [{ name: "release", mountPath: RELEASE_MOUNT.dir, readOnly: true }] : []),
    ],
  };
  const replicas = replicasOf(track);
  return {
    apiVersion: "apps/v1",
    kind: "Deployment",
    metadata: { name: `${m.name}-${version}`, namespace: ns, labels },
    spec: {
      ...(replicas === undefined ? {} : { replicas }),
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
          volumes: [
            { name: "tmp", emptyDir: { sizeLimit: "64Mi" } },
            ...(readsRelease ? [{ name: "release", configMap: { name: RELEASE_CONFIG_MAP } }] : []),
          ],
        },
      },
    },
  };
}

/** Autoscaling for each full-size track (mesh/autoscaling): CPU against the request. */
export function autoscalers(m: ServiceManifest, plan: ReleasePlan): IHorizontalPodAutoscaler[] {
  const { minReplicas, maxReplicas, cpuUtilizationPercent } = meshConfig.autoscaling;
  return tracksOf(m.name, plan)
    .filter((t) => t.size === "full")
    .map((t) => ({
      apiVersion: "autoscaling/v2",
      kind: "HorizontalPodAutoscaler",
      metadata: { name: `${m.name}-${t.name}`, namespace: ns, labels: { ...commonLabels(m.name), version: t.name } },
      spec: {
        scaleTargetRef: { apiVersion: "apps/v1", kind: "Deployment", name: `${m.name}-${t.name}` },
        minReplicas,
        maxReplicas,
        metrics: [
          {
            type: "Resource",
            resource: { name: "cpu", target: { type: "Utilization", averageUtilization: cpuUtilizationPercent } },
          },
        ],
      },
    }));
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
export function workloadResources(m: ServiceManifest, all: readonly ServiceManifest[], plan: ReleasePlan) {
  return [
    serviceAccount(m.name),
    service(m),
    ...tracksOf(m.name, plan).map((t) => deployment(m, all, t)),
    disruptionBudget(m),
  ];
}
