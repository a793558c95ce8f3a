// NetworkPolicies: the same edges as the AuthorizationPolicies, enforced by
// the CNI below the mesh (a pod without a sidecar, or a compromised one,
// still reaches only what the manifests declare). Ingress only: every pod's
// egress is scoped by its Istio Sidecar (istio.ts) instead, which knows
// hostnames; a namespace default-deny for ingress, then one policy per
// declared dependency, per way in from outside the namespace, and (dev) per
// infrastructure client. Kubelet probes come from the node, which
// NetworkPolicies always allow.
import type { INetworkPolicy } from "kubernetes-models/networking.k8s.io/v1/NetworkPolicy";
import type { ServiceManifest } from "../../services/runtime/src/manifest.ts";
import { meshConfig } from "./config.ts";
import { INFRA } from "./devinfra.ts";
import { usesEvents } from "./env.ts";
import { EDGE } from "./istio.ts";
import { commonLabels, MERGED_METRICS_PORT, ns } from "./workloads.ts";

type Peer = NonNullable<NonNullable<NonNullable<INetworkPolicy["spec"]>["ingress"]>[number]["from"]>[number];

const pods = (app: string): Peer => ({ podSelector: { matchLabels: { app } } });
const inNamespace = (namespace: string, labels: Record<string, string>): Peer => ({
  namespaceSelector: { matchLabels: { "kubernetes.io/metadata.name": namespace } },
  podSelector: { matchLabels: labels },
});

function allow(name: string, app: string, from: Peer[], ports: number[], labels = commonLabels(app)): INetworkPolicy {
  return {
    apiVersion: "networking.k8s.io/v1",
    kind: "NetworkPolicy",
    metadata: { name, namespace: ns, labels },
    spec: {
      podSelector: { matchLabels: { app } },
      policyTypes: ["Ingress"],
      ingress: [{ from, ports: ports.map((port) => ({ protocol: "TCP", port })) }],
    },
  };
}

/** mesh/base: default deny, the declared edges, the ingress gateway and istiod to the edge, Prometheus to every sidecar. */
export function serviceNetworkPolicies(manifests: readonly ServiceManifest[]): INetworkPolicy[] {
  const edge = manifests.find((m) => m.name === EDGE);
  if (!edge) throw new Error(`no ${EDGE} manifest: the ingress needs it`);
  const policies: INetworkPolicy[] = [
    {
      apiVersion: "networking.k8s.io/v1",
      kind: "NetworkPolicy",
      metadata: {
        name: "default-deny-ingress",
        namespace: ns,
        labels: { "app.kubernetes.io/part-of": meshConfig.partOf },
      },
      spec: { podSelector: {}, policyTypes: ["Ingress"] },
    },
  ];
  for (const caller of manifests) {
    for (const calleeName of Object.keys(caller.dependsOn)) {
      const callee = manifests.find((m) => m.name === calleeName);
      if (!callee) throw new Error(`${caller.name} depends on unknown ${calleeName}`);
      policies.push(allow(`allow-${caller.name}-to-${callee.name}`, callee.name, [pods(caller.name)], [callee.port]));
    }
  }
  policies.push(
    allow(
      `allow-ingress-to-${edge.name}`,
      edge.name,
      [
        inNamespace("istio-system", meshConfig.ingress.selector),
        // istiod fetches the JWKS for RequestAuthentication.
        inNamespace("istio-system", { app: "istiod" }),
      ],
      [edge.port],
    ),
  );
  for (const m of manifests) {
    policies.push(
      allow(
        `allow-prometheus-to-${m.name}`,
        m.name,
        [inNamespace(meshConfig.prometheus.namespace, meshConfig.prometheus.podLabels)],
        [MERGED_METRICS_PORT],
      ),
    );
  }
  return policies;
}

/** mesh/base/dev: who may reach each piece of dev infrastructure (the AuthorizationPolicies' callers). */
export function infraNetworkPolicies(manifests: readonly ServiceManifest[]): INetworkPolicy[] {
  const labels = (app: string) => commonLabels(app, "dev-infra");
  const services = (list: readonly ServiceManifest[]) => list.map((m) => pods(m.name));
  return [
    allow(
      "allow-to-postgres",
      "postgres",
      services(manifests.filter((m) => m.database)),
      [INFRA.postgres.port],
      labels("postgres"),
    ),
    allow("allow-to-nats", "nats", services(manifests.filter(usesEvents)), [INFRA.nats.port], labels("nats")),
    allow(
      "allow-to-otel-collector",
      "otel-collector",
      [...services(manifests), inNamespace("istio-system", meshConfig.ingress.selector)],
      [INFRA.otelCollector.grpcPort, INFRA.otelCollector.httpPort],
      labels("otel-collector"),
    ),
    allow("allow-to-jaeger", "jaeger", [pods("otel-collector")], [INFRA.jaeger.otlpPort], labels("jaeger")),
    allow("allow-grafana-to-jaeger", "jaeger", [pods("grafana")], [INFRA.jaeger.uiPort], labels("jaeger")),
    allow(
      "allow-to-prometheus",
      "prometheus",
      [pods("grafana"), pods("otel-collector")],
      [INFRA.prometheus.port],
      labels("prometheus"),
    ),
  ];
}
