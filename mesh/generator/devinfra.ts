// mesh/base/dev: what a developer's cluster needs besides our services, and a
// real cluster gets from elsewhere: Postgres (one database and role per
// service), NATS with JetStream, an OpenTelemetry collector, Jaeger,
// Prometheus and Grafana with the shop's dashboards, with the dev-only secrets
// and the authorisation that lets exactly the right workloads reach each.
import type { IDeployment } from "kubernetes-models/apps/v1/Deployment";
import type { IStatefulSet } from "kubernetes-models/apps/v1/StatefulSet";
import type { IRole } from "kubernetes-models/rbac.authorization.k8s.io/v1/Role";
import type { IRoleBinding } from "kubernetes-models/rbac.authorization.k8s.io/v1/RoleBinding";
import type { IConfigMap } from "kubernetes-models/v1/ConfigMap";
import type { ISecret } from "kubernetes-models/v1/Secret";
import type { IService } from "kubernetes-models/v1/Service";
import type { IAuthorizationPolicy } from "@kubernetes-models/istio/security.istio.io/v1/AuthorizationPolicy";
import type { ServiceManifest } from "../../services/runtime/src/manifest.ts";
import { meshConfig, principal } from "./config.ts";
import { DASHBOARDS, grafanaDashboard } from "./dashboards.ts";
import { ADMIN_SECRET, databaseSecret, SIGNING_KEK_SECRET, usesEvents } from "./env.ts";
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
  prometheus: { image: "prom/prometheus:v3.2.1", port: 9090, uid: 65534 },
  grafana: { image: "grafana/grafana:11.5.2", port: 3000, uid: 472 },
} as const;

/** Ports Tilt forwards to localhost for the dev infrastructure (mesh/services.json). */
export const INFRA_PORT_FORWARDS: Record<string, number[]> = {
  jaeger: [INFRA.jaeger.uiPort],
  prometheus: [INFRA.prometheus.port],
  grafana: [INFRA.grafana.port],
};

/** Every dev infrastructure workload (Tilt groups them). */
export const INFRA_WORKLOADS = ["postgres", "nats", "otel-collector", "jaeger", "prometheus", "grafana"] as const;

const infraLabels = (app: string) => commonLabels(app, "dev-infra");

/** Dev-only credentials: committed on purpose, used by nothing but a local kind cluster. */
export const devPassword = (role: string) => `${role}-dev-password`;
export const devDatabaseName = (service: string) => `shop_${service}`;
/** Committed on purpose like the passwords above; a real cluster's Secret holds a random one. */
export const DEV_SIGNING_KEK = Buffer.from("shop dev key-encryption key 32 b").toString("base64");

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

function allowTo(
  app: string,
  callers: string[],
  ports: number[],
  principals: string[] = [],
  name = `allow-to-${app}`,
): IAuthorizationPolicy {
  return {
    apiVersion: "security.istio.io/v1",
    kind: "AuthorizationPolicy",
    metadata: { name, namespace: ns, labels: infraLabels(app) },
    spec: {
      selector: { matchLabels: { app } },
      action: "ALLOW",
      rules: [
        {
          from: [{ source: { principals: [...callers.map((c) => principal(c)), ...principals] } }],
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
    {
      apiVersion: "v1",
      kind: "Secret",
      metadata: { name: SIGNING_KEK_SECRET, namespace: ns, labels: infraLabels("identity") },
      type: "Opaque",
      // 32 bytes, base64: the dev cluster's key-encryption key for identity's signing keys.
      stringData: { kek: DEV_SIGNING_KEK },
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
    // Only the services that publish or consume events: NATS has no authentication of its own, so
    // a workload that can reach it can publish any event (the gateway, facing the internet, cannot).
    allowTo(
      "nats",
      manifests.filter(usesEvents).map((m) => m.name),
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
  otlphttp/prometheus:
    # Prometheus' OTLP receiver (--web.enable-otlp-receiver): OTLP metrics from anything that sends them.
    metrics_endpoint: http://prometheus:${INFRA.prometheus.port}/api/v1/otlp/v1/metrics
    tls:
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
      exporters: [otlphttp/prometheus]
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
    // The services' spans (OTLP/HTTP) and their sidecars' and the ingress gateway's (Envoy, OTLP/gRPC).
    allowTo(
      "otel-collector",
      manifests.map((m) => m.name),
      [grpcPort, httpPort],
      [meshConfig.ingress.principal],
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
    // The UI is reached with `kubectl port-forward`, which bypasses the sidecar, and by Grafana.
    allowTo("jaeger", ["otel-collector"], [otlpPort]),
    allowTo("jaeger", ["grafana"], [uiPort], [], "allow-grafana-to-jaeger"),
  ];
}

export const PROMETHEUS_CONFIG = `global:
  scrape_interval: 15s
scrape_configs:
  # Every shop service pod, through the annotations the Deployments carry. With Istio's metrics
  # merging the sidecar injector points them at the agent's port 15020, which serves the
  # service's /metrics together with Envoy's and is reachable without mTLS (this Prometheus runs
  # without a sidecar).
  - job_name: shop
    kubernetes_sd_configs:
      - role: pod
        namespaces:
          names: [${meshConfig.namespace}]
    relabel_configs:
      - source_labels: [__meta_kubernetes_pod_label_app_kubernetes_io_component]
        action: keep
        regex: service
      - source_labels: [__meta_kubernetes_pod_annotation_prometheus_io_scrape]
        action: keep
        regex: "true"
      - source_labels: [__meta_kubernetes_pod_annotation_prometheus_io_path]
        target_label: __metrics_path__
        regex: (.+)
      - source_labels: [__address__, __meta_kubernetes_pod_annotation_prometheus_io_port]
        regex: ([^:]+)(?::\\d+)?;(\\d+)
        replacement: $1:$2
        target_label: __address__
      - source_labels: [__meta_kubernetes_pod_label_app]
        target_label: app
      - source_labels: [__meta_kubernetes_pod_label_version]
        target_label: version
      - source_labels: [__meta_kubernetes_pod_name]
        target_label: pod
`;

export function prometheus() {
  const { image, port, uid } = INFRA.prometheus;
  const labels = infraLabels("prometheus");
  const config: IConfigMap = {
    apiVersion: "v1",
    kind: "ConfigMap",
    metadata: { name: "prometheus", namespace: ns, labels },
    data: { "prometheus.yml": PROMETHEUS_CONFIG },
  };
  // Pod discovery in this namespace only.
  const role: IRole = {
    apiVersion: "rbac.authorization.k8s.io/v1",
    kind: "Role",
    metadata: { name: "prometheus", namespace: ns, labels },
    rules: [{ apiGroups: [""], resources: ["pods"], verbs: ["get", "list", "watch"] }],
  };
  const binding: IRoleBinding = {
    apiVersion: "rbac.authorization.k8s.io/v1",
    kind: "RoleBinding",
    metadata: { name: "prometheus", namespace: ns, labels },
    roleRef: { apiGroup: "rbac.authorization.k8s.io", kind: "Role", name: "prometheus" },
    subjects: [{ kind: "ServiceAccount", name: "prometheus", namespace: ns }],
  };
  const deploy: IDeployment = {
    apiVersion: "apps/v1",
    kind: "Deployment",
    metadata: { name: "prometheus", namespace: ns, labels },
    spec: {
      replicas: 1,
      selector: { matchLabels: { app: "prometheus" } },
      template: {
        metadata: {
          labels: { ...labels, version: "v1" },
          // Outside the mesh: it scrapes the sidecars' plain-HTTP port 15020 (see PROMETHEUS_CONFIG).
          annotations: { "sidecar.istio.io/inject": "false" },
        },
        spec: {
          serviceAccountName: "prometheus",
          // Its token is what pod discovery authenticates with.
          automountServiceAccountToken: true,
          securityContext: podSecurity(uid),
          containers: [
            {
              name: "prometheus",
              image,
              args: [
                "--config.file=/etc/prometheus/prometheus.yml",
                "--storage.tsdb.path=/prometheus",
                "--storage.tsdb.retention.time=2d",
                "--web.enable-otlp-receiver",
              ],
              ports: [{ name: "http-web", containerPort: port, protocol: "TCP" }],
              readinessProbe: { httpGet: { path: "/-/ready", port }, periodSeconds: 5 },
              livenessProbe: { httpGet: { path: "/-/healthy", port }, periodSeconds: 10 },
              resources: small,
              securityContext: containerSecurity(true),
              volumeMounts: [
                { name: "config", mountPath: "/etc/prometheus", readOnly: true },
                { name: "data", mountPath: "/prometheus" },
              ],
            },
          ],
          volumes: [
            { name: "config", configMap: { name: "prometheus" } },
            { name: "data", emptyDir: { sizeLimit: "1Gi" } },
          ],
        },
      },
    },
  };
  return [
    { ...serviceAccount("prometheus", "dev-infra"), automountServiceAccountToken: true },
    config,
    role,
    binding,
    deploy,
    svc("prometheus", [{ name: "http-web", port, appProtocol: "http" }]),
  ];
}

export const GRAFANA_DATASOURCES = `apiVersion: 1
datasources:
  - name: Prometheus
    uid: prometheus
    type: prometheus
    access: proxy
    url: http://prometheus:${INFRA.prometheus.port}
    isDefault: true
  - name: Jaeger
    uid: jaeger
    type: jaeger
    access: proxy
    url: http://jaeger:${INFRA.jaeger.uiPort}
`;

export const GRAFANA_DASHBOARD_PROVIDER = `apiVersion: 1
providers:
  - name: shop
    folder: Shop
    type: file
    disableDeletion: true
    options:
      path: /var/lib/grafana/dashboards
`;

export function grafana() {
  const { image, port, uid } = INFRA.grafana;
  const labels = infraLabels("grafana");
  const provisioning: IConfigMap = {
    apiVersion: "v1",
    kind: "ConfigMap",
    metadata: { name: "grafana-provisioning", namespace: ns, labels },
    data: { "datasources.yaml": GRAFANA_DATASOURCES, "dashboards.yaml": GRAFANA_DASHBOARD_PROVIDER },
  };
  const dashboards: IConfigMap = {
    apiVersion: "v1",
    kind: "ConfigMap",
    metadata: { name: "grafana-dashboards", namespace: ns, labels },
    data: Object.fromEntries(
      DASHBOARDS.map((d) => [`${d.uid}.json`, `${JSON.stringify(grafanaDashboard(d, "prometheus"), null, 2)}\n`]),
    ),
  };
  const deploy: IDeployment = {
    apiVersion: "apps/v1",
    kind: "Deployment",
    metadata: { name: "grafana", namespace: ns, labels },
    spec: {
      replicas: 1,
      selector: { matchLabels: { app: "grafana" } },
      template: {
        metadata: templateMeta("grafana"),
        spec: {
          serviceAccountName: "grafana",
          automountServiceAccountToken: false,
          securityContext: podSecurity(uid),
          containers: [
            {
              name: "grafana",
              image,
              env: [
                // Dev only: no sign-in, everyone is an admin (reached through a port-forward).
                { name: "GF_AUTH_ANONYMOUS_ENABLED", value: "true" },
                { name: "GF_AUTH_ANONYMOUS_ORG_ROLE", value: "Admin" },
                { name: "GF_AUTH_DISABLE_LOGIN_FORM", value: "true" },
                { name: "GF_PATHS_PROVISIONING", value: "/etc/grafana/provisioning" },
                { name: "GF_ANALYTICS_REPORTING_ENABLED", value: "false" },
                { name: "GF_ANALYTICS_CHECK_FOR_UPDATES", value: "false" },
              ],
              ports: [{ name: "http-ui", containerPort: port, protocol: "TCP" }],
              readinessProbe: { httpGet: { path: "/api/health", port }, periodSeconds: 5 },
              livenessProbe: { httpGet: { path: "/api/health", port }, periodSeconds: 10 },
              resources: small,
              securityContext: containerSecurity(true),
              volumeMounts: [
                { name: "data", mountPath: "/var/lib/grafana" },
                { name: "datasources", mountPath: "/etc/grafana/provisioning/datasources", readOnly: true },
                { name: "providers", mountPath: "/etc/grafana/provisioning/dashboards", readOnly: true },
                { name: "dashboards", mountPath: "/var/lib/grafana/dashboards", readOnly: true },
              ],
            },
          ],
          volumes: [
            { name: "data", emptyDir: {} },
            {
              name: "datasources",
              configMap: {
                name: "grafana-provisioning",
                items: [{ key: "datasources.yaml", path: "datasources.yaml" }],
              },
            },
            {
              name: "providers",
              configMap: { name: "grafana-provisioning", items: [{ key: "dashboards.yaml", path: "dashboards.yaml" }] },
            },
            { name: "dashboards", configMap: { name: "grafana-dashboards" } },
          ],
        },
      },
    },
  };
  return [
    serviceAccount("grafana", "dev-infra"),
    provisioning,
    dashboards,
    deploy,
    svc("grafana", [{ name: "http-ui", port, appProtocol: "http" }]),
  ];
}
