// Cross-reference checks in the spirit of `istioctl analyze`, over every
// rendered overlay: what one object names, another must define, and what the
// contracts and manifests say must be what the cluster is told.
import { describe, expect, it } from "vitest";
import { meshConfig, principal } from "../../mesh/generator/config.ts";
import { calledMethods, methodPath } from "../../mesh/generator/contracts.ts";
import { requiredEnv, usesEvents } from "../../mesh/generator/env.ts";
import { readReleasePlan, runningTracks, tracksOf } from "../../mesh/generator/releases.ts";
import { ROUTING_HEADERS } from "../../services/runtime/src/routing-headers.ts";
import { EDGE, jwksUri, routeMethods, storefrontPaths } from "../../mesh/generator/istio.ts";
import { serviceCommand } from "../../mesh/generator/workloads.ts";
import { addressVariable, defaultMetricsPort } from "../../services/runtime/src/manifest.ts";
import { type Any, deploymentsOf, manifests, named, ofKind, overlays, render } from "./fixtures.ts";

const ns = meshConfig.namespace;
const fqdn = (name: string) => `${name}.${ns}.svc.cluster.local`;
const byName = new Map(manifests.map((m) => [m.name, m]));

/** Retry conditions Istio accepts (pkg/config/validation: supportedRetryOnPolicies) or an HTTP status code. */
const ISTIO_RETRY_ON = new Set([
  "5xx",
  "gateway-error",
  "reset",
  "reset-before-request",
  "connect-failure",
  "retriable-4xx",
  "refused-stream",
  "retriable-status-codes",
  "retriable-headers",
  "envoy-ratelimited",
  "http3-post-connect-failure",
  "cancelled",
  "deadline-exceeded",
  "internal",
  "resource-exhausted",
  "unavailable",
]);
const plan = readReleasePlan();

/** Conditions that prove the request never reached the application: safe for any method. */
const PRE_REQUEST_ONLY = new Set(["connect-failure", "refused-stream", "reset-before-request"]);

/** Istio's duration rules (ValidateDuration): at least 1ms, millisecond precision. */
function durationMs(d: string): number {
  const m = d.match(/^(\d+(?:\.\d+)?)(ms|s|m|h)$/);
  if (!m) throw new Error(`bad duration ${d}`);
  const ms = Number(m[1]) * { ms: 1, s: 1000, m: 60_000, h: 3_600_000 }[m[2] as "ms"];
  return ms;
}
const validDuration = (d: string) => {
  const ms = durationMs(d);
  return ms >= 1 && Number.isInteger(ms);
};

const podLabels = (w: Any): Record<string, string> => w.spec.template.metadata.labels;
const workloads = (resources: Any[]) => resources.filter((r) => ["Deployment", "StatefulSet"].includes(r.kind));
const selects = (selector: Record<string, string>, labels: Record<string, string>) =>
  Object.entries(selector).every(([k, v]) => labels[k] === v);

describe.each(overlays)("%s", (overlay) => {
  const resources = render(overlay) as Any[];
  const services = ofKind(resources, "Service");
  const serviceAccounts = new Set(ofKind(resources, "ServiceAccount").map((sa) => sa.metadata.name));
  const destinationRules = ofKind(resources, "DestinationRule");
  const virtualServices = ofKind(resources, "VirtualService");
  const policies = ofKind(resources, "AuthorizationPolicy");
  const isDev = overlay.endsWith("/dev");

  it("the namespace has sidecar injection", () => {
    expect(named(resources, "Namespace", ns)?.metadata.labels["istio-injection"]).toBe("enabled");
  });

  it("every deployable has its ServiceAccount, Service, Deployment(s), DestinationRule and VirtualService", () => {
    for (const m of manifests) {
      expect(serviceAccounts.has(m.name), `${m.name} ServiceAccount`).toBe(true);
      expect(named(resources, "Service", m.name), `${m.name} Service`).toBeDefined();
      expect(deploymentsOf(resources, m.name).length, `${m.name} Deployment`).toBeGreaterThan(0);
      expect(
        destinationRules.some((d) => d.spec.host === fqdn(m.name)),
        `${m.name} DestinationRule`,
      ).toBe(true);
      expect(
        virtualServices.some((v) => v.spec.hosts.includes(fqdn(m.name))),
        `${m.name} VirtualService`,
      ).toBe(true);
      // Authorisation: covered by the namespace's default deny, and opened to exactly its declared callers.
      const allows = policies.filter((p) => p.spec.selector?.matchLabels?.app === m.name);
      const callers = manifests.filter((c) => m.name in c.dependsOn);
      expect(allows.length, `${m.name} authorisation`).toBe(m.name === EDGE ? 2 : callers.length);
    }
    expect(
      policies.some((p) => p.metadata.name === "default-deny" && p.metadata.namespace === ns && !p.spec.selector),
    ).toBe(true);
  });

  it("every proto service is routed method by method, and every served method has a route", () => {
    for (const m of manifests) {
      const vs = virtualServices.find((v) => v.spec.hosts.includes(fqdn(m.name)));
      const exact = new Set(
        vs.spec.http.flatMap((r: Any) => (r.match ?? []).map((x: Any) => x.uri?.exact)).filter(Boolean),
      );
      for (const s of m.serves)
        for (const method of s.methods) expect(exact.has(methodPath(method)), methodPath(method)).toBe(true);
    }
  });

  it("Deployments: labels app+version, the manifest's command, port and gRPC probes, non-root, resources, graceful stop", () => {
    for (const m of manifests) {
      for (const d of deploymentsOf(resources, m.name)) {
        const labels = podLabels(d);
        expect(labels.app).toBe(m.name);
        expect(tracksOf(m.name, plan).map((t) => t.name)).toContain(labels.version);
        expect(d.spec.selector.matchLabels).toEqual({ app: m.name, version: labels.version });
        const spec = d.spec.template.spec;
        expect(spec.serviceAccountName).toBe(m.name);
        expect(spec.securityContext.runAsNonRoot).toBe(true);
        expect(spec.securityContext.runAsUser).toBeGreaterThan(0);
        expect(spec.terminationGracePeriodSeconds).toBeGreaterThanOrEqual(30);
        expect(spec.containers).toHaveLength(1);
        const [c] = spec.containers;
        expect(c.command.filter((a: string) => a !== "--watch-path=.live-update")).toEqual(serviceCommand(m.name));
        expect(c.securityContext.allowPrivilegeEscalation).toBe(false);
        expect(c.securityContext.capabilities.drop).toEqual(["ALL"]);
        expect(c.resources.requests.cpu && c.resources.requests.memory && c.resources.limits.memory).toBeTruthy();
        expect(c.ports).toEqual([
          { name: "grpc", containerPort: m.port, protocol: "TCP" },
          { name: "http-metrics", containerPort: defaultMetricsPort(m.port), protocol: "TCP" },
        ]);
        expect(c.env.find((e: Any) => e.name === "PORT").value).toBe(String(m.port));
        // The runtime serves /metrics on METRICS_PORT; the port and Prometheus' annotations agree with it.
        expect(c.env.find((e: Any) => e.name === "METRICS_PORT").value).toBe(String(defaultMetricsPort(m.port)));
        expect(d.spec.template.metadata.annotations).toMatchObject({
          "prometheus.io/scrape": "true",
          "prometheus.io/port": String(defaultMetricsPort(m.port)),
          "prometheus.io/path": "/metrics",
        });
        for (const probe of ["startupProbe", "readinessProbe", "livenessProbe"]) {
          expect(c[probe]?.grpc, `${d.metadata.name} ${probe}`).toEqual({ port: m.port });
        }
        expect(d.spec.template.metadata.annotations["proxy.istio.io/config"]).toContain(
          "holdApplicationUntilProxyStarts",
        );
      }
    }
  });

  it("Services: gRPC ports Istio recognises, pointing at a named container port", () => {
    for (const s of services) {
      const pods = workloads(resources).filter((w) => selects(s.spec.selector, podLabels(w)));
      expect(pods.length, `${s.metadata.name} selects no pods`).toBeGreaterThan(0);
      for (const p of s.spec.ports) {
        // Istio's protocol selection: appProtocol wins, else the name's prefix; they must agree.
        const prefix = p.name.split("-")[0];
        expect(["grpc", "http", "http2", "tcp"]).toContain(p.appProtocol);
        expect(prefix === p.appProtocol || p.name === p.appProtocol, `${s.metadata.name}:${p.name}`).toBe(true);
        for (const w of pods) {
          const ports = w.spec.template.spec.containers.flatMap((c: Any) => c.ports ?? []);
          const target =
            typeof p.targetPort === "string"
              ? ports.find((cp: Any) => cp.name === p.targetPort)
              : ports.find((cp: Any) => cp.containerPort === p.targetPort);
          expect(target, `${s.metadata.name}:${p.name} -> ${w.metadata.name}`).toBeDefined();
        }
      }
      const m = byName.get(s.metadata.name);
      // Only the RPC port: metrics are scraped from the sidecar's merged endpoint, not through the Service.
      if (m)
        expect(s.spec.ports).toEqual([
          { name: "grpc", port: m.port, targetPort: "grpc", protocol: "TCP", appProtocol: "grpc" },
        ]);
    }
  });

  it("every variable a service requires is set in each of its Deployments, from sources that exist", () => {
    const configMaps = ofKind(resources, "ConfigMap");
    const secrets = ofKind(resources, "Secret");
    for (const m of manifests) {
      for (const d of deploymentsOf(resources, m.name)) {
        const env: Any[] = d.spec.template.spec.containers[0].env;
        for (const name of requiredEnv(m)) {
          const e = env.find((x) => x.name === name);
          expect(e, `${d.metadata.name} lacks ${name}`).toBeDefined();
          const cm = e.valueFrom?.configMapKeyRef;
          if (cm)
            expect(
              configMaps.find((c) => c.metadata.name === cm.name)?.data?.[cm.key],
              `${name} <- ConfigMap ${cm.name}.${cm.key}`,
            ).toBeTypeOf("string");
          const sk = e.valueFrom?.secretKeyRef;
          // Secrets are generated for dev; a real cluster creates them (mesh/README.md lists them).
          if (sk && isDev)
            expect(
              secrets.find((s) => s.metadata.name === sk.name)?.stringData?.[sk.key],
              `${name} <- Secret ${sk.name}.${sk.key}`,
            ).toBeTruthy();
          if (!cm && !sk) expect(e.value, `${d.metadata.name} ${name}`).toBeTruthy();
        }
        for (const dep of Object.keys(m.dependsOn)) {
          const url = new URL(env.find((x) => x.name === addressVariable(dep)).value);
          expect(url.hostname).toBe(dep);
          expect(Number(url.port)).toBe(byName.get(dep)!.port);
          expect(named(resources, "Service", dep).spec.ports[0].port).toBe(byName.get(dep)!.port);
        }
      }
    }
  });

  it("every routed destination exists: host is a Service, port is its port, subset is defined", () => {
    for (const vs of virtualServices) {
      for (const route of vs.spec.http) {
        const weights = route.route.map((r: Any) => r.weight ?? (route.route.length === 1 ? 100 : 0));
        expect(
          weights.reduce((a: number, b: number) => a + b, 0),
          `${vs.metadata.name}/${route.name}`,
        ).toBe(100);
        for (const { destination } of route.route) {
          const svcName = destination.host.replace(`.${ns}.svc.cluster.local`, "");
          const svc = named(resources, "Service", svcName);
          expect(svc, destination.host).toBeDefined();
          expect(svc.spec.ports.map((p: Any) => p.port)).toContain(destination.port.number);
          const dr = destinationRules.find((d) => d.spec.host === destination.host);
          expect(
            dr?.spec.subsets.map((s: Any) => s.name),
            `${destination.host} subset ${destination.subset}`,
          ).toContain(destination.subset);
        }
      }
    }
  });

  it("every subset selects running pods, and only tracks that run have one", () => {
    for (const dr of destinationRules) {
      const app = dr.spec.host.split(".")[0];
      expect(dr.spec.subsets.map((x: Any) => x.name)).toEqual(runningTracks(app, plan).map((t) => t.name));
      for (const subset of dr.spec.subsets) {
        const pods = deploymentsOf(resources, app).filter(
          (d) => selects(subset.labels, podLabels(d)) && (d.spec.replicas ?? 1) > 0,
        );
        expect(pods.length, `${dr.spec.host} subset ${subset.name} selects nothing`).toBeGreaterThan(0);
      }
    }
    for (const dr of destinationRules) {
      const app = dr.spec.host.split(".")[0];
      const routed = new Set(
        virtualServices.flatMap((v) =>
          v.spec.http.flatMap((r: Any) =>
            r.route.filter((x: Any) => x.destination.host === dr.spec.host).map((x: Any) => x.destination.subset),
          ),
        ),
      );
      for (const subset of routed) {
        const labels = dr.spec.subsets.find((s: Any) => s.name === subset).labels;
        // No replicas set: the autoscaler's (or 1).
        const pods = deploymentsOf(resources, app).filter(
          (d) => selects(labels, podLabels(d)) && (d.spec.replicas ?? 1) > 0,
        );
        expect(pods.length, `${dr.spec.host} subset ${subset} has no pods`).toBeGreaterThan(0);
      }
    }
  });

  it("retries: only NO_SIDE_EFFECTS/IDEMPOTENT methods are retried after they may have reached the server", () => {
    const edge = byName.get(EDGE)!;
    for (const vs of virtualServices) {
      const host = vs.spec.gateways ? fqdn(EDGE) : vs.spec.hosts[0];
      const m = byName.get(host.split(".")[0])!;
      const known = new Map(routeMethods(m === undefined ? edge : m).map((x) => [x.path, x]));
      known.set(meshConfig.jwksPath, { path: meshConfig.jwksPath, retryable: true, streaming: false });
      for (const route of vs.spec.http) {
        const path = route.match?.[0]?.uri?.exact;
        const method = path ? known.get(path) : undefined;
        if (path) expect(method, `${vs.metadata.name}: ${path} is not a served method`).toBeDefined();
        const retryOn: string[] = route.retries.retryOn.split(",");
        for (const cond of retryOn) expect(ISTIO_RETRY_ON.has(cond) || /^\d{3}$/.test(cond), cond).toBe(true);
        // retriable-status-codes without codes retries nothing; Istio adds it for the numeric ones itself.
        expect(retryOn).not.toContain("retriable-status-codes");
        for (const grpc of ["unavailable", "cancelled", "deadline-exceeded", "internal", "resource-exhausted", "5xx"])
          expect(retryOn, grpc).not.toContain(grpc);
        expect(route.retries.attempts).toBe(meshConfig.routes.retryAttempts);
        if (!method?.retryable) {
          expect(
            retryOn.filter((c) => !PRE_REQUEST_ONLY.has(c)),
            `${vs.metadata.name}/${route.name}`,
          ).toEqual([]);
        } else {
          // Connect: 503 is Unavailable; nothing else a service answers is worth repeating, and
          // gRPC-status conditions (unavailable, cancelled...) never match a Connect response.
          expect(retryOn.sort()).toEqual(["503", "connect-failure", "refused-stream", "reset"]);
        }
        if (method?.streaming) {
          expect(route.timeout, `${route.name}: a stream has no route timeout`).toBeUndefined();
          expect(route.retries.perTryTimeout).toBeUndefined();
        } else {
          expect(route.timeout, `${vs.metadata.name}/${route.name} needs an explicit timeout`).toBeDefined();
        }
        for (const d of [route.timeout, route.retries.perTryTimeout].filter(Boolean))
          expect(validDuration(d)).toBe(true);
        if (route.retries.perTryTimeout)
          expect(durationMs(route.retries.perTryTimeout)).toBeLessThan(durationMs(route.timeout));
      }
    }
  });

  it("releases: every route splits by the plan's weights, and each routing header pins its track for every method", () => {
    for (const m of manifests) {
      const tracks = runningTracks(m.name, plan);
      const vs = virtualServices.find((v) => v.spec.hosts.includes(fqdn(m.name)));
      const weighted = tracks.filter((t) => t.weight > 0);
      const main = vs.spec.http.filter((r: Any) => !r.match?.some((x: Any) => x.headers));
      for (const r of main)
        expect(r.route.map((x: Any) => [x.destination.subset, x.weight ?? 100])).toEqual(
          weighted.map((t) => [t.name, t.weight]),
        );
      for (const t of tracks.filter((x) => x.header)) {
        const pinned = vs.spec.http.filter((r: Any) =>
          r.match?.some((x: Any) => x.headers?.[t.header!.name]?.exact === t.header!.value),
        );
        expect(pinned.length, `${m.name} ${t.name}`).toBe(main.length);
        for (const r of pinned) expect(r.route.map((x: Any) => x.destination.subset)).toEqual([t.name]);
      }
      // A header route of a method comes right before the method's weighted route.
      vs.spec.http.forEach((r: Any, i: number) => {
        if (r.match?.some((x: Any) => x.headers)) {
          const next = vs.spec.http.slice(i + 1).find((x: Any) => !x.match?.some((y: Any) => y.headers));
          expect(next.match?.[0]?.uri?.exact).toBe(r.match[0].uri?.exact);
        }
      });
      expect(
        deploymentsOf(resources, m.name)
          .map((d) => podLabels(d).version)
          .sort(),
      ).toEqual(
        tracksOf(m.name, plan)
          .map((t) => t.name)
          .sort(),
      );
    }
    // The plan committed: order and catalog canaries at 10 %, payment blue-green.
    expect(plan.order).toEqual({ strategy: "canary", weight: 10 });
    expect(tracksOf("order", plan).find((t) => t.name === "v2")?.header).toEqual({
      name: ROUTING_HEADERS.canary,
      value: "v2",
    });
  });

  it("releases: exactly one track of each service consumes events, as the release ConfigMap each consumer mounts says", () => {
    const release = JSON.parse(named(resources, "ConfigMap", "shop-release").data["release.json"]);
    for (const m of manifests) {
      const consuming = tracksOf(m.name, plan).filter((t) => t.events);
      expect(consuming).toHaveLength(1);
      expect(release[m.name]).toEqual({ events: consuming[0].name });
      for (const d of deploymentsOf(resources, m.name)) {
        const c = d.spec.template.spec.containers[0];
        expect(c.env.find((e: Any) => e.name === "SERVICE_TRACK").value).toBe(podLabels(d).version);
        if (m.consumes.length === 0) continue;
        expect(c.env.find((e: Any) => e.name === "RELEASE_FILE").value).toBe("/etc/shop/release/release.json");
        const mount = c.volumeMounts.find((v: Any) => v.mountPath === "/etc/shop/release");
        const volume = d.spec.template.spec.volumes.find((v: Any) => v.name === mount.name);
        // A whole-ConfigMap volume (no subPath): the kubelet updates it in place when the release changes.
        expect(mount.subPath).toBeUndefined();
        expect(volume.configMap.name).toBe("shop-release");
      }
    }
  });

  it("releases: each track runs its own image, and only a canary or a down colour has a fixed size", () => {
    for (const m of manifests) {
      // Before the overlay's pins (which may give two tracks the same version).
      const images = deploymentsOf(render("mesh/base") as Any[], m.name).map(
        (d) => d.spec.template.spec.containers[0].image,
      );
      expect(new Set(images).size).toBe(images.length);
      for (const d of deploymentsOf(resources, m.name)) {
        const track = tracksOf(m.name, plan).find((t) => t.name === podLabels(d).version)!;
        expect(d.spec.replicas).toBe(track.size === "full" ? undefined : track.size === "canary" ? 1 : 0);
      }
    }
  });

  it("DestinationRules: connection pools, a retry budget, outlier detection on the pod's own failures with a panic threshold", () => {
    for (const dr of destinationRules) {
      const tp = dr.spec.trafficPolicy;
      const od = tp.outlierDetection;
      // Passed-up 503/504 (a dependency's failure) must not eject the pod that relays it.
      expect(od.splitExternalLocalOriginErrors).toBe(true);
      expect(od.consecutiveLocalOriginFailures).toBeGreaterThan(0);
      expect(od.consecutiveGatewayErrors).toBeUndefined();
      expect(od.consecutive5xxErrors).toBeUndefined();
      // Envoy ejects at least one host whatever maxEjectionPercent says; below minHealthPercent it stops ejecting.
      expect(od.minHealthPercent).toBeGreaterThanOrEqual(50);
      for (const d of [od.interval, od.baseEjectionTime, tp.connectionPool.tcp.connectTimeout])
        expect(validDuration(d)).toBe(true);
      expect(tp.connectionPool.http.http2MaxRequests).toBeGreaterThan(0);
      expect(tp.retryBudget).toEqual({ percent: 20, minRetryConcurrency: 3 });
      // A fixed maxRetries would cap retries regardless of load; the budget replaces it.
      expect(tp.connectionPool.http.maxRetries).toBeUndefined();
    }
  });

  it("mTLS is STRICT, with only the gateway's JWKS port open to plaintext", () => {
    const pas = ofKind(resources, "PeerAuthentication");
    expect(pas.find((p) => p.metadata.namespace === ns && !p.spec.selector)?.spec.mtls.mode).toBe("STRICT");
    // Mesh-wide policy only where the shop owns the mesh (dev); never overwritten in prod.
    expect(pas.find((p) => p.metadata.namespace === "istio-system")?.spec.mtls.mode).toBe(isDev ? "STRICT" : undefined);
    if (!isDev) expect(resources.filter((r) => r.kind !== "Namespace" && r.metadata.namespace !== ns)).toEqual([]);
    for (const p of pas) {
      expect(p.spec.mtls.mode).toBe("STRICT");
      const relaxed = Object.keys(p.spec.portLevelMtls ?? {});
      if (relaxed.length) {
        expect(p.spec.selector.matchLabels).toEqual({ app: EDGE });
        expect(relaxed).toEqual([String(byName.get(EDGE)!.port)]);
      }
    }
  });

  it("authorisation: default deny, and every principal is a real ServiceAccount (or the ingress gateway)", () => {
    expect(policies.find((p) => p.metadata.name === "default-deny")?.spec).toEqual({});
    for (const p of policies) {
      if (p.metadata.name === "default-deny") continue;
      expect(p.spec.action).toBe("ALLOW");
      const pods = workloads(resources).filter((w) => selects(p.spec.selector.matchLabels, podLabels(w)));
      expect(pods.length, `${p.metadata.name} selects no workload`).toBeGreaterThan(0);
      for (const rule of p.spec.rules) {
        for (const from of rule.from ?? []) {
          for (const pr of from.source.principals ?? []) {
            if (pr === meshConfig.ingress.principal) continue;
            const m = pr.match(/^cluster\.local\/ns\/([^/]+)\/sa\/([^/]+)$/);
            expect(m, pr).toBeTruthy();
            expect(m![1]).toBe(ns);
            expect(serviceAccounts.has(m![2]), `${p.metadata.name}: no ServiceAccount ${m![2]}`).toBe(true);
          }
        }
        for (const to of rule.to ?? []) {
          for (const port of to.operation.ports ?? []) {
            const ports = pods.flatMap((w) =>
              w.spec.template.spec.containers.flatMap((c: Any) =>
                (c.ports ?? []).map((cp: Any) => String(cp.containerPort)),
              ),
            );
            expect(ports, `${p.metadata.name} port ${port}`).toContain(port);
          }
          for (const path of [...(to.operation.paths ?? []), ...(to.operation.notPaths ?? [])]) {
            expect(path.startsWith("/"), path).toBe(true);
            expect(path.indexOf("*") === -1 || path.indexOf("*") === path.length - 1, path).toBe(true);
          }
        }
      }
    }
  });

  it("authorisation: exactly one ALLOW per declared dependency, limited to the declared methods", () => {
    const edges = policies.filter(
      (p) =>
        /^allow-.+-to-.+$/.test(p.metadata.name) &&
        p.metadata.name !== `allow-ingress-to-${EDGE}` &&
        byName.has(p.spec.selector?.matchLabels?.app),
    );
    const expected = manifests.flatMap((m) => Object.keys(m.dependsOn).map((callee) => `allow-${m.name}-to-${callee}`));
    expect(edges.map((p) => p.metadata.name).sort()).toEqual(expected.sort());
    for (const caller of manifests) {
      for (const [calleeName, dep] of Object.entries(caller.dependsOn)) {
        const callee = byName.get(calleeName)!;
        const p = edges.find((x) => x.metadata.name === `allow-${caller.name}-to-${calleeName}`);
        expect(p.spec.selector.matchLabels).toEqual({ app: calleeName });
        expect(p.spec.rules).toHaveLength(1);
        expect(p.spec.rules[0].from).toEqual([{ source: { principals: [principal(caller.name)] } }]);
        const op = p.spec.rules[0].to[0].operation;
        expect(op.ports).toEqual([String(callee.port)]);
        const served = new Set(callee.serves.flatMap((s) => s.methods.map(methodPath)));
        if (dep.methods) {
          expect(op.paths).toEqual(calledMethods(dep).map(methodPath));
          for (const path of op.paths) expect(served.has(path), path).toBe(true);
        } else {
          expect(op.paths).toEqual([`/${dep.service.typeName}/*`]);
        }
      }
    }
    // Nobody else reaches a deployable: the only other ALLOWs are the edge's and (dev) the infrastructure's.
    const others = policies.filter((p) => p.metadata.name !== "default-deny" && !edges.includes(p));
    for (const p of others) {
      const app = p.spec.selector.matchLabels.app;
      expect(app === EDGE || !byName.has(app), `${p.metadata.name} opens ${app}`).toBe(true);
    }
  });

  it("ingress: the gateway decides about tokens (401), the mesh only lets the ingress gateway in, and istiod to the JWKS", () => {
    const edge = byName.get(EDGE)!;
    const paths = storefrontPaths(edge);
    const p = named(resources, "AuthorizationPolicy", `allow-ingress-to-${EDGE}`);
    const rules: Any[] = p.spec.rules;
    for (const r of rules) expect(r.from).toEqual([{ source: { principals: [meshConfig.ingress.principal] } }]);
    // No rule asks for a request principal: a missing token would get the mesh's 403 instead of the gateway's 401.
    expect(JSON.stringify(p.spec)).not.toContain("requestPrincipals");
    const rpc = rules.filter((r) => r.to.some((t: Any) => t.operation.paths));
    expect(rpc.flatMap((r) => r.to.flatMap((t: Any) => t.operation.paths))).toEqual([`/${paths.service}/*`]);
    for (const r of rules.filter((x) => !rpc.includes(x))) {
      for (const t of r.to) {
        if (t.operation.methods.includes("OPTIONS")) expect(t.operation.methods).toEqual(["OPTIONS"]);
        else expect(t.operation.notPaths).toEqual(expect.arrayContaining(["/shop.*", "/grpc.*"]));
      }
    }
    const jwks = named(resources, "AuthorizationPolicy", "allow-jwks");
    expect(jwks.spec.rules).toEqual([
      { to: [{ operation: { ports: [String(edge.port)], methods: ["GET"], paths: [meshConfig.jwksPath] } }] },
    ]);
  });

  it("ingress: RequestAuthentication matches the issuer and audience every service verifies, JWKS from the gateway", () => {
    const edge = byName.get(EDGE)!;
    const ra = ofKind(resources, "RequestAuthentication");
    expect(ra).toHaveLength(1);
    expect(ra[0].spec.selector.matchLabels).toEqual({ app: EDGE });
    const [rule] = ra[0].spec.jwtRules;
    expect(rule.forwardOriginalToken).toBe(true);
    const uri = new URL(rule.jwksUri);
    expect(uri.hostname).toBe(fqdn(EDGE));
    expect(Number(uri.port)).toBe(edge.port);
    expect(uri.pathname).toBe(meshConfig.jwksPath);
    for (const m of manifests) {
      for (const d of deploymentsOf(resources, m.name)) {
        const env: Any[] = d.spec.template.spec.containers[0].env;
        expect(env.find((e) => e.name === "JWT_ISSUER").value).toBe(rule.issuer);
        expect([env.find((e) => e.name === "JWT_AUDIENCE").value]).toEqual(rule.audiences);
      }
    }
    expect(rule.jwksUri).toBe(jwksUri(edge));
  });

  it("ingress: Gateway and VirtualService bind and route every storefront method to the gateway; CORS is the gateway's, from config", () => {
    const gw = ofKind(resources, "Gateway");
    expect(gw).toHaveLength(1);
    expect(gw[0].spec.selector).toEqual(meshConfig.ingress.selector);
    const vs = virtualServices.find((v) => v.spec.gateways);
    expect(vs.spec.gateways).toEqual([gw[0].metadata.name]);
    const gwHosts = gw[0].spec.servers.flatMap((s: Any) => s.hosts);
    for (const h of vs.spec.hosts) expect(gwHosts).toContain(h);
    expect(new Set(gw[0].spec.servers.map((x: Any) => x.port.name)).size).toBe(gw[0].spec.servers.length);
    const paths = storefrontPaths(byName.get(EDGE)!);
    const routed = vs.spec.http.map((r: Any) => r.match?.[0]?.uri?.exact).filter(Boolean);
    expect(routed).toEqual(expect.arrayContaining([...paths.all, meshConfig.jwksPath]));
    expect(vs.spec.http.at(-1).match).toBeUndefined();
    for (const r of vs.spec.http) {
      expect(r.route.every((x: Any) => x.destination.host === fqdn(EDGE))).toBe(true);
      expect(r.corsPolicy).toBeUndefined();
    }
    // The gateway reads CORS_ORIGINS from the overlay's config: localhost only in dev.
    const gateway = deploymentsOf(resources, EDGE)[0].spec.template.spec.containers[0];
    expect(gateway.env.find((e: Any) => e.name === "CORS_ORIGINS").valueFrom.configMapKeyRef).toMatchObject({
      name: "shop-config",
      key: "CORS_ORIGINS",
    });
    const origins: string = named(resources, "ConfigMap", "shop-config").data.CORS_ORIGINS;
    if (isDev) expect(origins).toContain("http://localhost:5173");
    else expect(origins).not.toMatch(/localhost|127\.0\.0\.1/);
  });

  it("rate limit: a local token bucket on the gateway answering RESOURCE_EXHAUSTED", () => {
    const [ef] = ofKind(resources, "EnvoyFilter");
    expect(ef.spec.workloadSelector.labels).toEqual({ app: EDGE });
    const [filter, reply] = ef.spec.configPatches;
    expect(filter.applyTo).toBe("HTTP_FILTER");
    expect(filter.match.context).toBe("SIDECAR_INBOUND");
    const cfg = filter.patch.value.typed_config;
    expect(filter.patch.value.name).toBe("envoy.filters.http.local_ratelimit");
    expect(cfg.rate_limited_as_resource_exhausted).toBe(true);
    expect(checkEnvoy(cfg, LOCAL_RATE_LIMIT)).toEqual([]);
    expect(reply.applyTo).toBe("NETWORK_FILTER");
    expect(reply.patch.operation).toBe("MERGE");
    expect(checkEnvoy(reply.patch.value.typed_config, HCM_LOCAL_REPLY)).toEqual([]);
    expect(reply.patch.value.typed_config.local_reply_config.mappers[0].body_format_override.json_format.code).toBe(
      "resource_exhausted",
    );
  });

  if (isDev) {
    it("dev infrastructure: NATS for every service, Postgres for the ones with a database, telemetry to Jaeger", () => {
      const allow = (app: string) =>
        policies.find((p) => p.metadata.name === `allow-to-${app}`).spec.rules[0].from[0].source.principals;
      // NATS has no authentication: only what publishes or consumes events reaches it (not the gateway).
      expect(allow("nats").sort()).toEqual(
        manifests
          .filter(usesEvents)
          .map((m) => principal(m.name))
          .sort(),
      );
      expect(allow("nats")).not.toContain(principal(EDGE));
      expect(allow("postgres").sort()).toEqual(
        manifests
          .filter((m) => m.database)
          .map((m) => principal(m.name))
          .sort(),
      );
      expect(allow("otel-collector").sort()).toEqual(
        [...manifests.map((m) => principal(m.name)), meshConfig.ingress.principal].sort(),
      );
      expect(allow("jaeger")).toEqual([principal("otel-collector")]);
      const init = named(resources, "ConfigMap", "postgres-init").data["10-shop.sql"];
      for (const m of manifests.filter((x) => x.database)) {
        const url = new URL(named(resources, "Secret", `${m.name}-database`).stringData.url);
        expect(url.hostname).toBe("postgres");
        expect(init).toContain(
          `CREATE DATABASE "${url.pathname.slice(1)}" OWNER "${decodeURIComponent(url.username)}"`,
        );
        expect(init).toContain(`CREATE ROLE "${url.username}" LOGIN PASSWORD '${decodeURIComponent(url.password)}'`);
      }
      const natsUrl = new URL(named(resources, "ConfigMap", "shop-config").data.NATS_URL);
      expect(named(resources, "Service", natsUrl.hostname).spec.ports[0]).toMatchObject({
        port: Number(natsUrl.port),
        appProtocol: "tcp",
      });
    });

    it("dev: one pod per running track (no autoscaling), writable image for Tilt's live update, restart on its trigger", () => {
      expect(ofKind(resources, "HorizontalPodAutoscaler")).toEqual([]);
      for (const m of manifests) {
        for (const d of deploymentsOf(resources, m.name)) {
          const track = tracksOf(m.name, plan).find((t) => t.name === podLabels(d).version)!;
          expect(d.spec.replicas ?? 1).toBe(track.size === "none" ? 0 : 1);
          const c = d.spec.template.spec.containers[0];
          expect(c.command[1]).toBe("--watch-path=.live-update");
          expect(c.securityContext.readOnlyRootFilesystem).toBe(false);
        }
      }
    });
  } else {
    it("prod: images come from a registry with a tag, no dev infrastructure or dev secrets", () => {
      for (const w of workloads(resources)) {
        for (const c of w.spec.template.spec.containers)
          expect(c.image, w.metadata.name).toMatch(/^[a-z0-9.-]+\.[a-z]+(:\d+)?\/.+:[\w.-]+$/);
        expect(podLabels(w)["app.kubernetes.io/component"]).toBe("service");
      }
      expect(ofKind(resources, "Secret")).toEqual([]);
      for (const d of ofKind(resources, "Deployment")) {
        const c = d.spec.template.spec.containers[0];
        expect(c.securityContext.readOnlyRootFilesystem).toBe(true);
        expect(c.command).not.toContain("--watch");
        if (podLabels(d).version === "v1") {
          expect(d.spec.replicas).toBeUndefined();
          const hpa = named(resources, "HorizontalPodAutoscaler", d.metadata.name);
          expect(hpa.spec.scaleTargetRef).toEqual({ apiVersion: "apps/v1", kind: "Deployment", name: d.metadata.name });
          expect(hpa.spec.minReplicas).toBeGreaterThanOrEqual(2);
        }
      }
      const gw = ofKind(resources, "Gateway")[0];
      const https = gw.spec.servers.find((s: Any) => s.port.protocol === "HTTPS");
      expect(https?.tls).toMatchObject({ mode: "SIMPLE", credentialName: expect.any(String) });
    });
  }
});

// ------------------------------------------------------------ Envoy protos
// EnvoyFilter values are Envoy protos written as Structs: no CRD schema covers
// them, and istiod rejects (or Envoy NACKs) unknown fields. These are the
// fields of the protos we use (envoy.extensions.filters.http.local_ratelimit.v3
// and the http_connection_manager.v3 LocalReplyConfig).
type Shape = { [key: string]: Shape | "scalar" | [Shape | "scalar"] };
const PERCENT: Shape = { runtime_key: "scalar", default_value: { numerator: "scalar", denominator: "scalar" } };
const HEADER_VALUE_OPTION: Shape = {
  header: { key: "scalar", value: "scalar" },
  append_action: "scalar",
  keep_empty_value: "scalar",
};
const LOCAL_RATE_LIMIT: Shape = {
  "@type": "scalar",
  stat_prefix: "scalar",
  status: { code: "scalar" },
  token_bucket: { max_tokens: "scalar", tokens_per_fill: "scalar", fill_interval: "scalar" },
  filter_enabled: PERCENT,
  filter_enforced: PERCENT,
  request_headers_to_add_when_not_enforced: [HEADER_VALUE_OPTION],
  response_headers_to_add: [HEADER_VALUE_OPTION],
  local_rate_limit_per_downstream_connection: "scalar",
  enable_x_ratelimit_headers: "scalar",
  rate_limited_as_resource_exhausted: "scalar",
  always_consume_default_token_bucket: "scalar",
};
const ACCESS_LOG_FILTER: Shape = {};
Object.assign(ACCESS_LOG_FILTER, {
  status_code_filter: { comparison: { op: "scalar", value: { default_value: "scalar", runtime_key: "scalar" } } },
  header_filter: {
    header: {
      name: "scalar",
      present_match: "scalar",
      string_match: { exact: "scalar", prefix: "scalar" },
      invert_match: "scalar",
    },
  },
  and_filter: { filters: [ACCESS_LOG_FILTER] },
  or_filter: { filters: [ACCESS_LOG_FILTER] },
});
const HCM_LOCAL_REPLY: Shape = {
  "@type": "scalar",
  local_reply_config: {
    mappers: [
      {
        filter: ACCESS_LOG_FILTER,
        status_code: "scalar",
        body: { inline_string: "scalar" },
        body_format_override: { json_format: "scalar", text_format: "scalar", content_type: "scalar" },
        headers_to_add: [HEADER_VALUE_OPTION],
      },
    ],
  },
};

function checkEnvoy(value: Any, shape: Shape | "scalar" | [Shape | "scalar"], path = ""): string[] {
  if (shape === "scalar") return [];
  if (Array.isArray(shape)) {
    if (!Array.isArray(value)) return [`${path}: expected a list`];
    return value.flatMap((v, i) => checkEnvoy(v, shape[0], `${path}/${i}`));
  }
  if (typeof value !== "object" || value === null || Array.isArray(value)) return [`${path}: expected an object`];
  return Object.entries(value).flatMap(([k, v]) =>
    k in shape ? checkEnvoy(v, shape[k], `${path}/${k}`) : [`${path}/${k}: unknown Envoy field`],
  );
}

describe("generator invariants", () => {
  it("the storefront's public methods exist and the rest need a token", () => {
    const edge = byName.get(EDGE)!;
    const p = storefrontPaths(edge);
    expect(p.public).toHaveLength(edge.publicMethods?.length ?? 0);
    expect(p.public.length).toBeGreaterThan(0);
    expect(p.all).toEqual(expect.arrayContaining(p.public));
  });

  it("the Envoy shape check rejects unknown fields", () => {
    expect(checkEnvoy({ stat_prefix: "x", tokens_bucket: {} }, LOCAL_RATE_LIMIT)).toEqual([
      "/tokens_bucket: unknown Envoy field",
    ]);
  });
});
