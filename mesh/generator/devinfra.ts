// mesh/base/dev: what a developer's cluster needs besides our services, and a
// real cluster gets from elsewhere: Postgres (one database and role per
// service), NATS with JetStream, an OpenTelemetry collector and Jaeger, with
// the dev-only secrets and the authorisation that lets exactly the right
// services reach each of them.
import type { IDeployment } from "kubernetes-models/apps/v1/Deployment";
import type { IStatefulSet } from "kubernetes-models/apps/v1/StatefulSet";
import type { IConfigMap } from "kubernetes-models/v1/ConfigMap";
import type { ISecret } from "kubernetes-models/v1/Secret";
import type { IService } from "kubernetes-models/v1/Service";
import type { IAuthorizationPolicy } from "@kubernetes-models/istio/security.istio.io/v1/AuthorizationPolicy";
import type { ServiceManifest } from "../../services/runtime/src/manifest.ts";
import { meshConfig, principal } from "./config.ts";
import { ADMIN_SECRET, databaseSecret } from "./env.ts";
import { commonLabels, ns, PROXY_CONFIG, serviceAccount } from "./workloads.ts";

export const INFRA = {
  postgres: { image: "postgres:17", port: 5432, uid: 999 },
  nats: { image: "nats:2.11-alpine", port: 4222, monitorPort: 8222 },
  otelCollector: {
    image: "otel/opentelemetry-collector-contrib:0.120.0",
    grpcPort: 4317,
    httpPort: 4318,
    healthPort: 13133,
  },
  jaeger: { image: "jaegertracing/jaeger:2.3.0", otlpPort: 4317, uiPort: 16686 },
} as const;

const infraLabels = (app: string) => commonLabels(app, "dev-infra");

/** Dev-only credentials: committed on purpose, used by nothing but a local kind cluster. */
export const devPassword = (role: string) => `${role}-dev-password`;
export const devDatabaseName = (service: string) => `shop_${service}`;

const podSecurity = (uid: number) => ({
  runAsNonRoot: true,
  runAsUser: uid,
  runAsGroup: uid,
  fsGroup: uid,
  seccompProfile: { type: "RuntimeDefault" as const },
});
const containerSecurity = (readOnlyRootFilesystem: boolean) => ({
  allowPrivilegeEscalation: false,
  readOnlyRootFilesystem,
  capabilities: { drop: ["ALL"] },
});
const templateMeta = (app: string) => ({
  labels: { ...infraLabels(app), version: "v1" },
  annotations: { "proxy.istio.io/config": PROXY_CONFIG },
});
const small = { requests: { cpu: "50m", memory: "128Mi" }, limits: { cpu: "1", memory: "512Mi" } };

function svc(name: string, ports: { name: string; port: number; appProtocol: string }[]): IService {
  return {
    apiVersion: "v1",
    kind: "Service",
    metadata: { name, namespace: ns, labels: infraLabels(name) },
    spec: {
      selector: { app: name },
      ports: ports.map((p) => ({
        name: p.name,
        port: p.port,
        targetPort: p.port,
        protocol: "TCP",
        appProtocol: p.appProtocol,
      })),
    },
  };
}

function allowTo(app: string, callers: string[], ports: number[]): IAuthorizationPolicy {
  return {
    apiVersion: "security.istio.io/v1",
    kind: "AuthorizationPolicy",
    metadata: { name: `allow-to-${app}`, namespace: ns, labels: infraLabels(app) },
    spec: {
      selector: { matchLabels: { app } },
      action: "ALLOW",
      rules: [
        {
          from: [{ source: { principals: callers.map((c) => principal(c)) } }],
          to: [{ operation: { ports: ports.map(String) } }],
        },
      ],
    },
  };
}

export function devSecrets(manifests: readonly ServiceManifest[]): ISecret[] {
  const { port } = INFRA.postgres;
  return [
    {
      apiVersion: "v1",
      kind: "Secret",
      metadata: { name: "postgres", namespace: ns, labels: infraLabels("postgres") },
      type: "Opaque",
      stringData: { POSTGRES_PASSWORD: devPassword("postgres") },
    },
    ...manifests
      .filter((m) => m.database)
      .map((m): ISecret => ({
        apiVersion: "v1",
        kind: "Secret",
        metadata: { name: databaseSecret(m.name), namespace: ns, labels: infraLabels(m.name) },
        type: "Opaque",
        stringData: { url: `postgres://${m.name}:${devPassword(m.name)}@postgres:${port}/${devDatabaseName(m.name)}` },
      })),
    {
      apiVersion: "v1",
      kind: "Secret",
      metadata: { name: ADMIN_SECRET, namespace: ns, labels: infraLabels("identity") },
      type: "Opaque",
      stringData: { password: devPassword("admin") },
    },
  ];
}

/** One role and one database per service; a role can reach its own database only. */
export function postgresInitSql(manifests: readonly ServiceManifest[]): string {
  const lines = ["-- Runs once, when the data directory is initialised."];
  for (const m of manifests.filter((x) => x.database)) {
    const db = devDatabaseName(m.name);
    lines.push(
      `CREATE ROLE "${m.name}" LOGIN PASSWORD '${devPassword(m.name)}';`,
      `CREATE DATABASE "${db}" OWNER "${m.name}";`,
      `REVOKE ALL ON DATABASE "${db}" FROM PUBLIC;`,
    );
  }
  return `${lines.join("\n")}\n`;
}

export function postgres(manifests: readonly ServiceManifest[]) {
  const { image, port, uid } = INFRA.postgres;
  const init: IConfigMap = {
    apiVersion: "v1",
    kind: "ConfigMap",
    metadata: { name: "postgres-init", namespace: ns, labels: infraLabels("postgres") },
    data: { "10-shop.sql": postgresInitSql(manifests) },
  };
  const sts: IStatefulSet = {
    apiVersion: "apps/v1",
    kind: "StatefulSet",
    metadata: { name: "postgres", namespace: ns, labels: infraLabels("postgres") },
    spec: {
      serviceName: "postgres",
      replicas: 1,
      selector: { matchLabels: { app: "postgres" } },
      template: {
        metadata: templateMeta("postgres"),
        spec: {
          serviceAccountName: "postgres",
          automountServiceAccountToken: false,
          securityContext: podSecurity(uid),
          containers: [
            {
              name: "postgres",
              image,
              ports: [{ name: "tcp-postgres", containerPort: port, protocol: "TCP" }],
              env: [
                {
                  name: "POSTGRES_PASSWORD",
                  valueFrom: { secretKeyRef: { name: "postgres", key: "POSTGRES_PASSWORD" } },
                },
                { name: "PGDATA", value: "/var/lib/postgresql/data/pgdata" },
              ],
              readinessProbe: {
                exec: { command: ["pg_isready", "-U", "postgres", "-h", "127.0.0.1"] },
                periodSeconds: 5,
              },
              livenessProbe: {
                exec: { command: ["pg_isready", "-U", "postgres", "-h", "127.0.0.1"] },
                periodSeconds: 10,
                failureThreshold: 6,
              },
              resources: small,
              // The image's entrypoint writes outside the data directory (socket, config).
              securityContext: containerSecurity(false),
              volumeMounts: [
                { name: "data", mountPath: "/var/lib/postgresql/data" },
                { name: "init", mountPath: "/docker-entrypoint-initdb.d", readOnly: true },
              ],
            },
          ],
          volumes: [{ name: "init", configMap: { name: "postgres-init" } }],
        },
      },
      volumeClaimTemplates: [
        {
          metadata: { name: "data" },
          spec: { accessModes: ["ReadWriteOnce"], resources: { requests: { storage: "1Gi" } } },
        },
      ],
    },
  };
  return [
    serviceAccount("postgres", "dev-infra"),
    init,
    sts,
    svc("postgres", [{ name: "tcp-postgres", port, appProtocol: "tcp" }]),
    allowTo(
      "postgres",
      manifests.filter((m) => m.database).map((m) => m.name),
      [port],
    ),
  ];
}

export function nats(manifests: readonly ServiceManifest[]) {
  const { image, port, monitorPort } = INFRA.nats;
  const sts: IStatefulSet = {
    apiVersion: "apps/v1",
    kind: "StatefulSet",
    metadata: { name: "nats", namespace: ns, labels: infraLabels("nats") },
    spec: {
      serviceName: "nats",
      replicas: 1,
      selector: { matchLabels: { app: "nats" } },
      template: {
        metadata: templateMeta("nats"),
        spec: {
          serviceAccountName: "nats",
          automountServiceAccountToken: false,
          securityContext: podSecurity(meshConfig.uid),
          containers: [
            {
              name: "nats",
              image,
              command: ["nats-server"],
              args: ["--jetstream", "--store_dir=/data", `--port=${port}`, `--http_port=${monitorPort}`],
              ports: [
                { name: "tcp-client", containerPort: port, protocol: "TCP" },
                { name: "http-monitor", containerPort: monitorPort, protocol: "TCP" },
              ],
              readinessProbe: {
                httpGet: { path: "/healthz?js-enabled-only=true", port: monitorPort },
                periodSeconds: 5,
              },
              livenessProbe: {
                httpGet: { path: "/healthz", port: monitorPort },
                periodSeconds: 10,
                failureThreshold: 6,
              },
              resources: small,
              securityContext: containerSecurity(true),
              volumeMounts: [{ name: "data", mountPath: "/data" }],
            },
          ],
        },
      },
      volumeClaimTemplates: [
        {
          metadata: { name: "data" },
          spec: { accessModes: ["ReadWriteOnce"], resources: { requests: { storage: "1Gi" } } },
        },
      ],
    },
  };
  return [
    serviceAccount("nats", "dev-infra"),
    sts,
    // NATS speaks first (INFO on connect): an explicit TCP port keeps Istio from waiting to sniff the protocol.
    svc("nats", [
      { name: "tcp-client", port, appProtocol: "tcp" },
      { name: "http-monitor", port: monitorPort, appProtocol: "http" },
    ]),
    allowTo(
      "nats",
      manifests.map((m) => m.name),
      [port],
    ),
  ];
}

export const OTEL_COLLECTOR_CONFIG = `receivers:
  otlp:
    protocols:
      grpc:
        endpoint: 0.0.0.0:${INFRA.otelCollector.grpcPort}
      http:
        endpoint: 0.0.0.0:${INFRA.otelCollector.httpPort}
processors:
  memory_limiter:
    check_interval: 1s
    limit_percentage: 80
    spike_limit_percentage: 25
  batch: {}
exporters:
  otlp/jaeger:
    endpoint: jaeger:${INFRA.jaeger.otlpPort}
    tls:
      # Plain gRPC to the local sidecar, which carries it over mTLS.
      insecure: true
  debug:
    verbosity: basic
extensions:
  health_check:
    endpoint: 0.0.0.0:${INFRA.otelCollector.healthPort}
service:
  extensions: [health_check]
  pipelines:
    traces:
      receivers: [otlp]
      processors: [memory_limiter, batch]
      exporters: [otlp/jaeger]
    metrics:
      receivers: [otlp]
      processors: [memory_limiter, batch]
      exporters: [debug]
    logs:
      receivers: [otlp]
      processors: [memory_limiter, batch]
      exporters: [debug]
`;

export function otelCollector(manifests: readonly ServiceManifest[]) {
  const { image, grpcPort, httpPort, healthPort } = INFRA.otelCollector;
  const config: IConfigMap = {
    apiVersion: "v1",
    kind: "ConfigMap",
    metadata: { name: "otel-collector", namespace: ns, labels: infraLabels("otel-collector") },
    data: { "config.yaml": OTEL_COLLECTOR_CONFIG },
  };
  const deploy: IDeployment = {
    apiVersion: "apps/v1",
    kind: "Deployment",
    metadata: { name: "otel-collector", namespace: ns, labels: infraLabels("otel-collector") },
    spec: {
      replicas: 1,
      selector: { matchLabels: { app: "otel-collector" } },
      template: {
        metadata: templateMeta("otel-collector"),
        spec: {
          serviceAccountName: "otel-collector",
          automountServiceAccountToken: false,
          securityContext: podSecurity(10001),
          containers: [
            {
              name: "otel-collector",
              image,
              args: ["--config=/conf/config.yaml"],
              ports: [
                { name: "grpc-otlp", containerPort: grpcPort, protocol: "TCP" },
                { name: "http-otlp", containerPort: httpPort, protocol: "TCP" },
                { name: "http-health", containerPort: healthPort, protocol: "TCP" },
              ],
              readinessProbe: { httpGet: { path: "/", port: healthPort }, periodSeconds: 5 },
              livenessProbe: { httpGet: { path: "/", port: healthPort }, periodSeconds: 10 },
              resources: small,
              securityContext: containerSecurity(true),
              volumeMounts: [{ name: "config", mountPath: "/conf", readOnly: true }],
            },
          ],
          volumes: [{ name: "config", configMap: { name: "otel-collector" } }],
        },
      },
    },
  };
  return [
    serviceAccount("otel-collector", "dev-infra"),
    config,
    deploy,
    svc("otel-collector", [
      { name: "grpc-otlp", port: grpcPort, appProtocol: "grpc" },
      { name: "http-otlp", port: httpPort, appProtocol: "http" },
    ]),
    allowTo(
      "otel-collector",
      manifests.map((m) => m.name),
      [grpcPort, httpPort],
    ),
  ];
}

export function jaeger() {
  const { image, otlpPort, uiPort } = INFRA.jaeger;
  const deploy: IDeployment = {
    apiVersion: "apps/v1",
    kind: "Deployment",
    metadata: { name: "jaeger", namespace: ns, labels: infraLabels("jaeger") },
    spec: {
      replicas: 1,
      selector: { matchLabels: { app: "jaeger" } },
      template: {
        metadata: templateMeta("jaeger"),
        spec: {
          serviceAccountName: "jaeger",
          automountServiceAccountToken: false,
          securityContext: podSecurity(10001),
          containers: [
            {
              // Jaeger v2 all-in-one: OTLP in, in-memory storage, UI on 16686.
              name: "jaeger",
              image,
              ports: [
                { name: "grpc-otlp", containerPort: otlpPort, protocol: "TCP" },
                { name: "http-ui", containerPort: uiPort, protocol: "TCP" },
              ],
              readinessProbe: { tcpSocket: { port: uiPort }, periodSeconds: 5 },
              livenessProbe: { tcpSocket: { port: uiPort }, periodSeconds: 10 },
              resources: small,
              securityContext: containerSecurity(true),
              volumeMounts: [{ name: "tmp", mountPath: "/tmp" }],
            },
          ],
          volumes: [{ name: "tmp", emptyDir: {} }],
        },
      },
    },
  };
  return [
    serviceAccount("jaeger", "dev-infra"),
    deploy,
    svc("jaeger", [
      { name: "grpc-otlp", port: otlpPort, appProtocol: "grpc" },
      { name: "http-ui", port: uiPort, appProtocol: "http" },
    ]),
    // The UI is reached with `kubectl port-forward`, which bypasses the sidecar.
    allowTo("jaeger", ["otel-collector"], [otlpPort]),
  ];
}
