// Assembles every generated file under mesh/ from the manifests and contracts.
import type { ServiceManifest } from "../../services/runtime/src/manifest.ts";
import { meshConfig, versionsOf } from "./config.ts";
import { devSecrets, jaeger, nats, otelCollector, postgres } from "./devinfra.ts";
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
  virtualService,
} from "./istio.ts";
import { BANNER, type GeneratedFile, renderFile, renderObject } from "./yaml.ts";
import { namespace, sharedConfig, workloadResources } from "./workloads.ts";

/** Directories whose every file is generated (the up-to-date check owns them). */
export const GENERATED_DIRS = ["mesh/base", "mesh/base/dev", "mesh/istio", "mesh/istio/mesh-wide"];

function kustomization(dir: string, resources: string[], description: string): [string, string] {
  const body = renderObject(
    { apiVersion: "kustomize.config.k8s.io/v1beta1", kind: "Kustomization", resources },
    [...BANNER, "", ...description.split("\n")].join("\n"),
  );
  return [`${dir}/kustomization.yaml`, body];
}

const res = (resources: object[]) => resources.map((resource) => ({ resource }));

/** Path (relative to the repository) → content of every generated file. */
export function generateMesh(manifests: readonly ServiceManifest[]): Map<string, string> {
  const edge = manifests.find((m) => m.name === EDGE);
  if (!edge) throw new Error(`no services/${EDGE}/src/manifest.ts: the ingress needs it`);
  const files: GeneratedFile[] = [];
  const out = new Map<string, string>();

  // mesh/base
  files.push({
    path: "mesh/base/namespace.yaml",
    description: "The namespace, with Istio sidecar injection, and the settings every service shares.",
    resources: res([namespace(), sharedConfig()]),
  });
  for (const m of manifests) {
    files.push({
      path: `mesh/base/${m.name}.yaml`,
      description: `${m.name}: serves ${m.serves.map((s) => s.typeName).join(", ")} on port ${m.port} (h2c: gRPC, gRPC-Web, Connect).\nTracks: ${versionsOf(m.name).join(", ")}.`,
      resources: res(workloadResources(m, manifests)),
    });
  }
  out.set(
    ...kustomization(
      "mesh/base",
      ["namespace.yaml", ...manifests.map((m) => `${m.name}.yaml`)],
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
  );
  out.set(
    ...kustomization(
      "mesh/base/dev",
      ["secrets.yaml", "postgres.yaml", "nats.yaml", "otel-collector.yaml", "jaeger.yaml"],
      "Development infrastructure (kind): Postgres, NATS JetStream, OTel collector, Jaeger.",
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
      description: "Per service: subsets v1/v2, connection pools, outlier detection (503 = Unavailable under Connect).",
      resources: res(manifests.map(destinationRule)),
    },
    {
      path: "mesh/istio/virtual-services.yaml",
      description:
        "Per service and method: retries only where the contract says NO_SIDE_EFFECTS or IDEMPOTENT,\nexplicit timeouts for unary calls (none for streams), canary weights and the x-canary: v2 override.",
      resources: res(manifests.map(virtualService)),
    },
    {
      path: "mesh/istio/ingress.yaml",
      description:
        "The way in: Gateway, routes to the gateway service (CORS for Connect-Web), JWT verification\nagainst the gateway's JWKS, and the rule that non-public storefront methods need a token.",
      resources: res([
        ingressGateway(),
        ingressVirtualService(edge),
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

  for (const file of files) out.set(file.path, renderFile(file));

  // For the Tiltfile: what to build and which workloads each image runs in.
  const tilt = {
    comment: "Generated by mesh/generator; read by the Tiltfile.",
    namespace: meshConfig.namespace,
    services: manifests.map((m) => ({
      name: m.name,
      image: meshConfig.image(m.name),
      port: m.port,
      workloads: versionsOf(m.name).map((v) => `${m.name}-${v}`),
    })),
  };
  out.set("mesh/services.json", `${JSON.stringify(tilt, null, 2)}\n`);
  return out;
}
