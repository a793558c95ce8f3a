// Assembles every generated file under mesh/ from the manifests and contracts.
import type { ServiceManifest } from "../../services/runtime/src/manifest.ts";
import { existsSync } from "node:fs";
import { join } from "node:path";
import { meshConfig } from "./config.ts";
import { repoRoot } from "./contracts.ts";
import {
  devSecrets,
  grafana,
  INFRA_PORT_FORWARDS,
  INFRA_WORKLOADS,
  jaeger,
  nats,
  otelCollector,
  postgres,
  prometheus,
} from "./devinfra.ts";
import {
  defaultDeny,
  dependencyPolicies,
  destinationRule,
  EDGE,
  edgePolicies,
  ingressGateway,
  ingressVirtualService,
  meshWidePeerAuthentication,
  peerAuthentications,
  rateLimit,
  requestBufferLimits,
  requestAuthentication,
  sidecars,
  tracingTelemetry,
  virtualService,
} from "./istio.ts";
import { infraNetworkPolicies, serviceNetworkPolicies } from "./network-policies.ts";
import { planProblems, readReleasePlan, runningTracks, tracksOf, type ReleasePlan } from "./releases.ts";
import { BANNER, type GeneratedFile, renderFile, renderObject } from "./yaml.ts";
import { autoscalers, namespace, releaseConfig, sharedConfig, trackImage, workloadResources } from "./workloads.ts";

/** Directories whose every file is generated (the up-to-date check owns them). */
export const GENERATED_DIRS = ["mesh/base", "mesh/base/dev", "mesh/istio", "mesh/istio/mesh-wide", "mesh/autoscaling"];

function kustomization(dir: string, resources: string[], description: string): [string, string] {
  const body = renderObject(
    { apiVersion: "kustomize.config.k8s.io/v1beta1", kind: "Kustomization", resources },
    [...BANNER, "", ...description.split("\n")].join("\n"),
  );
  return [`${dir}/kustomization.yaml`, body];
}

const res = (resources: object[]) => resources.map((resource) => ({ resource }));

/** Path (relative to the repository) → content of every generated file. */
export function generateMesh(
  manifests: readonly ServiceManifest[],
  plan: ReleasePlan = readReleasePlan(),
): Map<string, string> {
  const edge = manifests.find((m) => m.name === EDGE);
  if (!edge) throw new Error(`no services/${EDGE}/src/manifest.ts: the ingress needs it`);
  const problems = planProblems(
    plan,
    manifests.map((m) => m.name),
  );
  if (problems.length > 0) throw new Error(`mesh/releases.json: ${problems.join("; ")}`);
  const files: GeneratedFile[] = [];
  const out = new Map<string, string>();

  // mesh/base
  files.push({
    path: "mesh/base/namespace.yaml",
    description:
      "The namespace, with Istio sidecar injection, the settings every service shares, and the release\nConfigMap the services read at run time (which track consumes events).",
    resources: res([namespace(), sharedConfig(), releaseConfig(manifests, plan)]),
  });
  for (const m of manifests) {
    files.push({
      path: `mesh/base/${m.name}.yaml`,
      description: `${m.name}: serves ${m.serves.map((s) => s.typeName).join(", ")} on port ${m.port} (h2c: gRPC, gRPC-Web, Connect).\nTracks: ${tracksOf(
        m.name,
        plan,
      )
        .map((t) => `${t.name} (${t.size}${t.events ? ", consumes events" : ""})`)
        .join(", ")}.`,
      resources: res(workloadResources(m, manifests, plan)),
    });
  }
  files.push({
    path: "mesh/base/network-policies.yaml",
    description:
      "NetworkPolicies: default deny for ingress, then the edges the manifests declare (like the\nAuthorizationPolicies), the ingress gateway and istiod to the gateway, and Prometheus to each sidecar's metrics.",
    resources: res(serviceNetworkPolicies(manifests)),
  });
  out.set(
    ...kustomization(
      "mesh/base",
      ["namespace.yaml", ...manifests.map((m) => `${m.name}.yaml`), "network-policies.yaml"],
      "The workloads. Dev infrastructure is in dev/, Istio policy in ../istio; overlays combine them.",
    ),
  );

  // mesh/base/dev
  files.push(
    {
      path: "mesh/base/dev/secrets.yaml",
      description:
        "Dev-only credentials for the in-cluster Postgres and the admin account.\nA real cluster creates these Secrets itself (see mesh/README.md).",
      resources: res(devSecrets(manifests)),
    },
    {
      path: "mesh/base/dev/postgres.yaml",
      description: "Postgres for development: one role and database per service.",
      resources: res(postgres(manifests)),
    },
    {
      path: "mesh/base/dev/nats.yaml",
      description: "NATS with JetStream for development.",
      resources: res(nats(manifests)),
    },
    {
      path: "mesh/base/dev/otel-collector.yaml",
      description: "OpenTelemetry collector: OTLP from the services, traces to Jaeger.",
      resources: res(otelCollector(manifests)),
    },
    {
      path: "mesh/base/dev/jaeger.yaml",
      description: "Jaeger (all-in-one, in-memory) for development.",
      resources: res(jaeger()),
    },
    {
      path: "mesh/base/dev/prometheus.yaml",
      description:
        "Prometheus for development: scrapes every service pod (through the sidecar's merged metrics)\nand receives OTLP metrics from the collector.",
      resources: res(prometheus()),
    },
    {
      path: "mesh/base/dev/grafana.yaml",
      description:
        "Grafana for development, provisioned with Prometheus and Jaeger and the shop's dashboards\n(mesh/generator/dashboards.ts): RED per RPC, the order saga, outbox and consumer lag, dead letters.",
      resources: res(grafana()),
    },
    {
      path: "mesh/base/dev/network-policies.yaml",
      description: "NetworkPolicies for the dev infrastructure: the same callers as its AuthorizationPolicies.",
      resources: res(infraNetworkPolicies(manifests)),
    },
  );
  out.set(
    ...kustomization(
      "mesh/base/dev",
      [
        "secrets.yaml",
        "postgres.yaml",
        "nats.yaml",
        "otel-collector.yaml",
        "jaeger.yaml",
        "prometheus.yaml",
        "grafana.yaml",
        "network-policies.yaml",
      ],
      "Development infrastructure (kind): Postgres, NATS JetStream, OTel collector, Jaeger, Prometheus, Grafana.",
    ),
  );

  // mesh/istio
  files.push(
    {
      path: "mesh/istio/peer-authentication.yaml",
      description: "mTLS: STRICT for the namespace.",
      resources: res(peerAuthentications(edge)),
    },
    {
      path: "mesh/istio/authorization-policies.yaml",
      description:
        "Default deny, then one ALLOW per dependency declared in services/*/src/manifest.ts\n(caller's service account -> callee's port, limited to the methods the caller declares).",
      resources: res([defaultDeny(), ...dependencyPolicies(manifests)]),
    },
    {
      path: "mesh/istio/destination-rules.yaml",
      description:
        "Per service: a subset per running release track, connection pools, a retry budget, outlier\ndetection on the pod's own failures with a panic threshold.",
      resources: res(manifests.map((m) => destinationRule(m, plan))),
    },
    {
      path: "mesh/istio/virtual-services.yaml",
      description:
        "Per service and method: retries only where the contract says NO_SIDE_EFFECTS or IDEMPOTENT,\nexplicit timeouts for unary calls (none for streams), release weights and the routing-header overrides\n(x-canary: v2, x-preview: <idle colour>).",
      resources: res(manifests.map((m) => virtualService(m, plan))),
    },
    {
      path: "mesh/istio/ingress.yaml",
      description:
        "The way in: Gateway, routes to the gateway service, JWT verification against the gateway's JWKS\n(an invalid token is refused here; a missing one is the gateway's to refuse, with 401).",
      resources: res([
        ingressGateway(),
        ingressVirtualService(edge, plan),
        requestAuthentication(edge),
        ...edgePolicies(edge),
      ]),
    },
    {
      path: "mesh/istio/rate-limit.yaml",
      description: "Local rate limit at the gateway's sidecar, answering RESOURCE_EXHAUSTED.",
      resources: res([rateLimit(edge)]),
    },
    {
      path: "mesh/istio/sidecars.yaml",
      description:
        "Egress scoping: each sidecar knows only the services its manifest declares, the infrastructure and Istio.",
      resources: res(sidecars(manifests)),
    },
    {
      path: "mesh/istio/telemetry.yaml",
      description: `Envoy spans from every sidecar to the OpenTelemetry collector (the \`shop-otel\` provider of the Istio install).`,
      resources: res([tracingTelemetry()]),
    },
    {
      path: "mesh/istio/request-buffer-limits.yaml",
      description: "How much of a request body a sidecar holds to retry it: the services' own request limit.",
      resources: res([requestBufferLimits()]),
    },
  );
  out.set(
    ...kustomization(
      "mesh/istio",
      [
        "peer-authentication.yaml",
        "authorization-policies.yaml",
        "destination-rules.yaml",
        "virtual-services.yaml",
        "ingress.yaml",
        "rate-limit.yaml",
        "sidecars.yaml",
        "telemetry.yaml",
        "request-buffer-limits.yaml",
      ],
      "Istio policy for the shop namespace (needs Istio >= 1.24 with its CRDs installed).",
    ),
  );
  files.push({
    path: "mesh/istio/mesh-wide/peer-authentication.yaml",
    description:
      "Mesh-wide STRICT mTLS (istio-system is Istio's root namespace). Leave this out where the\nplatform team owns mesh-wide policy; the shop namespace is STRICT on its own either way.",
    resources: res([meshWidePeerAuthentication()]),
  });
  out.set(...kustomization("mesh/istio/mesh-wide", ["peer-authentication.yaml"], "Mesh-wide defaults."));

  files.push({
    path: "mesh/autoscaling/autoscalers.yaml",
    description: "HorizontalPodAutoscalers for every full-size release track (needs metrics-server).",
    resources: res(manifests.flatMap((m) => autoscalers(m, plan))),
  });
  out.set(
    ...kustomization(
      "mesh/autoscaling",
      ["autoscalers.yaml"],
      "Autoscaling; the Deployments of full-size tracks leave their replica count to these.",
    ),
  );

  for (const file of files) out.set(file.path, renderFile(file));

  // For the Tiltfile: what to build (one image per track) and how its live update syncs.
  const tilt = {
    comment: "Generated by mesh/generator; read by the Tiltfile.",
    namespace: meshConfig.namespace,
    services: manifests.map((m) => ({
      name: m.name,
      port: m.port,
      images: runningTracks(m.name, plan).map((t) => ({
        image: trackImage(m.name, t.name),
        workload: `${m.name}-${t.name}`,
      })),
      devImage: devImage(m),
    })),
    infra: INFRA_WORKLOADS.map((name) => ({ name, portForwards: INFRA_PORT_FORWARDS[name] ?? [] })),
  };
  out.set("mesh/services.json", `${JSON.stringify(tilt, null, 2)}\n`);
  return out;
}

/**
 * What the Dockerfile's dev target copies from services/<name> (its context
 * under Tilt), which of it live update syncs, and which change needs a new
 * image instead. Everything in the context is one or the other, else Tilt
 * rebuilds the image on every change.
 */
export function devImage(
  m: ServiceManifest,
  root: string = repoRoot,
): { context: string[]; sync: string[]; rebuildOn: string[] } {
  const dir = `services/${m.name}`;
  const sync = [`${dir}/dist`];
  if (m.database) sync.push(`${dir}/drizzle`);
  if (existsSync(join(root, dir, "web", "index.html"))) sync.push(`${dir}/web/dist`);
  return { context: [`${dir}/package.json`, ...sync], sync, rebuildOn: [`${dir}/package.json`] };
}
