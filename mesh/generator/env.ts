// The environment of each deployable: which variables it needs and where the
// cluster takes them from. One list, shared by the Deployment generator, the
// mesh tests ("every variable a service requires is set in its Deployment")
// and the manifest smoke test; services/runtime may import `requiredEnv` too.
import type { IIoK8sApiCoreV1EnvVar } from "kubernetes-models/v1/EnvVar";
import { addressVariable, defaultMetricsPort, type ServiceManifest } from "../../services/runtime/src/manifest.ts";
import { meshConfig } from "./config.ts";

/** Where a variable's value comes from in the cluster. */
export type EnvSource = { config: string } | { secret: string; key: string } | { value: string };

export const ADMIN_SECRET = "identity-admin";
/** identity's key-encryption key (key `kek`): encrypts the token-signing keys it stores. */
export const SIGNING_KEK_SECRET = "identity-signing-kek";

/** Variables particular to one deployable, on top of the ones every manifest implies. */
export const EXTRA_ENV: Readonly<Record<string, Readonly<Record<string, EnvSource>>>> = {
  identity: {
    ADMIN_EMAIL: { config: "ADMIN_EMAIL" },
    ADMIN_PASSWORD: { secret: ADMIN_SECRET, key: "password" },
    SIGNING_KEY_ENCRYPTION_KEY: { secret: SIGNING_KEK_SECRET, key: "kek" },
    // istiod's JWKS refresh interval plus the gateway's JWKS cache (services/gateway/src/jwks-document.ts).
    KEY_PUBLISH_LEAD_SECONDS: { value: String(meshConfig.meshJwksRefreshSeconds + 10 * 60) },
  },
  gateway: {
    CORS_ORIGINS: { config: "CORS_ORIGINS" },
  },
};

/**
 * Every variable a deployable needs set to start (in a cluster; `npm start`
 * has defaults for some): PORT, HOST, NATS_URL when it publishes or consumes
 * events (nothing else connects to NATS), DATABASE_URL when it owns a
 * database, `<DEP>_ADDR` per declared dependency, JWT_ISSUER and JWT_AUDIENCE
 * (every service verifies access tokens against them), and EXTRA_ENV.
 */
/** Whether a deployable talks to NATS at all (the runtime connects only then). */
export function usesEvents(manifest: ServiceManifest): boolean {
  return manifest.publishes.length > 0 || manifest.consumes.length > 0;
}

export function requiredEnv(manifest: ServiceManifest): string[] {
  return [
    "PORT",
    "HOST",
    ...(usesEvents(manifest) ? ["NATS_URL"] : []),
    ...(manifest.database ? ["DATABASE_URL"] : []),
    ...Object.keys(manifest.dependsOn).map(addressVariable),
    "JWT_ISSUER",
    "JWT_AUDIENCE",
    ...Object.keys(EXTRA_ENV[manifest.name] ?? {}),
  ];
}

/** Optional variables the Deployments also set. */
export const OPTIONAL_ENV = [
  "METRICS_PORT",
  "SERVICE_TRACK",
  "RELEASE_FILE",
  "LOG_LEVEL",
  "OTEL_EXPORTER_OTLP_ENDPOINT",
  "OTEL_SERVICE_NAME",
  "OTEL_RESOURCE_ATTRIBUTES",
] as const;

/** The shared, non-secret settings every Deployment reads from (mesh/base: ConfigMap shop-config). */
export const SHARED_CONFIG_MAP = "shop-config";
export const sharedConfigDefaults: Record<string, string> = {
  NATS_URL: "nats://nats:4222",
  // Other origins whose pages may call the storefront API; none by default (the web app is same-origin).
  CORS_ORIGINS: "",
  LOG_LEVEL: "info",
  OTEL_EXPORTER_OTLP_ENDPOINT: "http://otel-collector:4318",
  ADMIN_EMAIL: "admin@shop.local",
};

/** The release ConfigMap (see workloads.ts releaseConfig) and where services that consume events mount it. */
export const RELEASE_CONFIG_MAP = "shop-release";
export const RELEASE_MOUNT = { dir: "/etc/shop/release", file: "release.json" } as const;

/** Secret holding a service's database URL (key `url`); mesh/base/dev creates them for the dev Postgres. */
export function databaseSecret(service: string): string {
  return `${service}-database`;
}
/** Base URL a deployable uses to reach another inside the cluster. */
export function serviceAddress(manifest: ServiceManifest): string {
  return `http://${manifest.name}:${manifest.port}`;
}

const fromConfig = (name: string, key: string = name, optional = false): IIoK8sApiCoreV1EnvVar => ({
  name,
  valueFrom: { configMapKeyRef: { name: SHARED_CONFIG_MAP, key, ...(optional ? { optional: true } : {}) } },
});
const fromSecret = (name: string, secret: string, key: string): IIoK8sApiCoreV1EnvVar => ({
  name,
  valueFrom: { secretKeyRef: { name: secret, key } },
});

/** The `env` of a deployable's container, in a stable order. */
export function deploymentEnv(
  manifest: ServiceManifest,
  all: readonly ServiceManifest[],
  version: string,
): IIoK8sApiCoreV1EnvVar[] {
  const byName = new Map(all.map((m) => [m.name, m]));
  const env: IIoK8sApiCoreV1EnvVar[] = [
    { name: "PORT", value: String(manifest.port) },
    { name: "HOST", value: "0.0.0.0" },
    // The runtime's default too; explicit so the container port and the scrape annotation visibly agree.
    { name: "METRICS_PORT", value: String(defaultMetricsPort(manifest.port)) },
    // The release track this Deployment runs (v1, v2, blue, green): with RELEASE_FILE it decides
    // whether this pod consumes events (services/runtime/src/release-track.ts).
    { name: "SERVICE_TRACK", value: version },
    ...(manifest.consumes.length > 0
      ? [{ name: "RELEASE_FILE", value: `${RELEASE_MOUNT.dir}/${RELEASE_MOUNT.file}` }]
      : []),
    ...(usesEvents(manifest) ? [fromConfig("NATS_URL")] : []),
  ];
  if (manifest.database) env.push(fromSecret("DATABASE_URL", databaseSecret(manifest.name), "url"));
  for (const dependency of Object.keys(manifest.dependsOn)) {
    const callee = byName.get(dependency);
    if (!callee) throw new Error(`${manifest.name} depends on unknown deployable ${dependency}`);
    env.push({ name: addressVariable(dependency), value: serviceAddress(callee) });
  }
  env.push(
    { name: "JWT_ISSUER", value: meshConfig.jwt.issuer },
    { name: "JWT_AUDIENCE", value: meshConfig.jwt.audience },
  );
  for (const [name, source] of Object.entries(EXTRA_ENV[manifest.name] ?? {})) {
    env.push(
      "config" in source
        ? fromConfig(name, source.config)
        : "secret" in source
          ? fromSecret(name, source.secret, source.key)
          : { name, value: source.value },
    );
  }
  env.push(
    fromConfig("LOG_LEVEL"),
    fromConfig("OTEL_EXPORTER_OTLP_ENDPOINT", "OTEL_EXPORTER_OTLP_ENDPOINT", true),
    { name: "OTEL_SERVICE_NAME", value: manifest.name },
    { name: "OTEL_RESOURCE_ATTRIBUTES", value: `service.version=${version},service.namespace=${meshConfig.partOf}` },
  );
  const missing = requiredEnv(manifest).filter((name) => !env.some((e) => e.name === name));
  if (missing.length > 0) throw new Error(`no value for ${missing.join(", ")} in ${manifest.name}'s environment`);
  return env;
}
