// The "it's up" summary: every endpoint, and a request to copy and paste.
import path from "node:path";
import { databaseName, DEV_ADMIN, redact, REPO_ROOT, withDatabase } from "./services.ts";
import type { RunningSystem } from "./system.ts";

export function banner(system: RunningSystem, elapsedMs: number): string[] {
  const { plan } = system;
  const rows: [string, string][] = [];
  const gateway = system.services.find((s) => s.name === "gateway");
  if (gateway) rows.push(["web app + public API", `http://localhost:${gateway.port}`]);
  for (const s of system.services) rows.push([s.name, s.address]);
  const relative = (p: string) => (p.startsWith(REPO_ROOT) ? path.relative(REPO_ROOT, p) : p);
  // Each service's own database, ready for psql (the embedded cluster's
  // password is a fixed dev one; the user's own is hidden).
  if (system.postgres) {
    const url = withDatabase(system.postgres.serverUrl, databaseName("SERVICE"));
    const databases = (plan.postgres.kind === "embedded" ? url : redact(url)).replace("SERVICE", "<service>");
    rows.push([
      "postgres",
      `${databases}  (${plan.postgres.kind === "embedded" ? `embedded; data in ${relative(plan.postgres.dataDir)}` : "DATABASE_URL"})`,
    ]);
  }
  if (system.nats) {
    rows.push([
      "nats",
      `${system.nats.url}  (${plan.nats.kind === "private" ? `private nats-server, JetStream data in ${relative(plan.nats.storeDir)}` : "NATS_URL"})`,
    ]);
  }
  const admin = system.plan.env.ADMIN_EMAIL
    ? `${system.plan.env.ADMIN_EMAIL} (ADMIN_EMAIL / ADMIN_PASSWORD)`
    : `${DEV_ADMIN.email} / ${DEV_ADMIN.password}`;
  rows.push(["admin sign-in", admin]);
  const width = Math.max(...rows.map(([name]) => name.length));

  const lines = [
    `shop is up: ${system.services.length} service${system.services.length === 1 ? "" : "s"} healthy in ${(elapsedMs / 1000).toFixed(1)} s`,
    "",
    ...rows.map(([name, value]) => `  ${name.padEnd(width)}  ${value}`),
  ];
  if (plan.missing.length > 0) {
    lines.push("", `  not started (no src/main.ts yet): ${plan.missing.map((s) => s.name).join(", ")}`);
  }
  const example = curlExample(system);
  if (example) {
    lines.push("", "  try (every service serves gRPC reflection, so no .proto files are needed):", `    ${example}`);
  }
  lines.push("", "  Ctrl-C stops everything.");
  return lines;
}

/** A `buf curl` against the most useful service that is running. */
export function curlExample(system: Pick<RunningSystem, "services">): string | undefined {
  const byName = new Map(system.services.map((s) => [s.name, s]));
  const gateway = byName.get("gateway");
  const catalog = byName.get("catalog");
  const first = system.services.at(0);
  const target = gateway
    ? { s: gateway, method: "shop.storefront.v1.StorefrontService/ListProducts", body: '{"pageSize": 5}' }
    : catalog
      ? { s: catalog, method: "shop.catalog.v1.CatalogService/ListProducts", body: '{"pageSize": 5}' }
      : first
        ? { s: first, method: "grpc.health.v1.Health/Check", body: "{}" }
        : undefined;
  if (!target) return undefined;
  // h2c needs prior knowledge; reflection is a bidi stream, so HTTP/2 it is.
  return `npx buf curl --protocol grpc --http2-prior-knowledge -d '${target.body}' ${target.s.address}/${target.method}`;
}
