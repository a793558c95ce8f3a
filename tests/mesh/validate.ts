// Schema validation of Kubernetes and Istio objects with unknown keys rejected.
//
// kubernetes-models and @kubernetes-models/istio validate against the
// Kubernetes OpenAPI and Istio CRD schemas with precompiled ajv validators, but
// those schemas do not forbid additional properties: `retriess:` or
// `imagePullPolicyy:` pass. A typo in a real cluster is at best pruned
// silently (CRDs, structural schemas) and at worst rejected by the API server,
// so we add the missing half: we run the same validator on a proxy that
// records every property it reads, and every property it never looked at is
// unknown to the schema. Maps (labels, data) are iterated by the validator, so
// their keys count as read. Schema-less subtrees (EnvoyFilter patch values,
// which are Envoy protos as Structs) are listed in OPEN_PATHS and checked by
// the Envoy-specific tests instead.
import { StatefulSet, Deployment } from "kubernetes-models/apps/v1";
import { HorizontalPodAutoscaler } from "kubernetes-models/autoscaling/v2";
import { NetworkPolicy } from "kubernetes-models/networking.k8s.io/v1";
import { Role, RoleBinding } from "kubernetes-models/rbac.authorization.k8s.io/v1";
import { PodDisruptionBudget } from "kubernetes-models/policy/v1";
import { ConfigMap, Namespace, Secret, Service, ServiceAccount } from "kubernetes-models/v1";
import { DestinationRule, Gateway, Sidecar, VirtualService } from "@kubernetes-models/istio/networking.istio.io/v1";
import { Telemetry } from "@kubernetes-models/istio/telemetry.istio.io/v1";
import { EnvoyFilter } from "@kubernetes-models/istio/networking.istio.io/v1alpha3";
import {
  AuthorizationPolicy,
  PeerAuthentication,
  RequestAuthentication,
} from "@kubernetes-models/istio/security.istio.io/v1";

interface Validatable {
  prototype: { validate(): void };
}

/** apiVersion/kind -> model. Kinds not listed here fail validation, so new kinds get registered (and checked). */
export const MODELS: Record<string, Validatable> = {
  "v1/Namespace": Namespace,
  "v1/ConfigMap": ConfigMap,
  "v1/Secret": Secret,
  "v1/Service": Service,
  "v1/ServiceAccount": ServiceAccount,
  "apps/v1/Deployment": Deployment,
  "apps/v1/StatefulSet": StatefulSet,
  "policy/v1/PodDisruptionBudget": PodDisruptionBudget,
  "autoscaling/v2/HorizontalPodAutoscaler": HorizontalPodAutoscaler,
  "networking.k8s.io/v1/NetworkPolicy": NetworkPolicy,
  "rbac.authorization.k8s.io/v1/Role": Role,
  "rbac.authorization.k8s.io/v1/RoleBinding": RoleBinding,
  "networking.istio.io/v1/Sidecar": Sidecar,
  "telemetry.istio.io/v1/Telemetry": Telemetry,
  "networking.istio.io/v1/VirtualService": VirtualService,
  "networking.istio.io/v1/DestinationRule": DestinationRule,
  "networking.istio.io/v1/Gateway": Gateway,
  "networking.istio.io/v1alpha3/EnvoyFilter": EnvoyFilter,
  "security.istio.io/v1/AuthorizationPolicy": AuthorizationPolicy,
  "security.istio.io/v1/PeerAuthentication": PeerAuthentication,
  "security.istio.io/v1/RequestAuthentication": RequestAuthentication,
};

/** Subtrees the schemas leave open (x-kubernetes-preserve-unknown-fields), per kind, as path patterns. */
export const OPEN_PATHS: Record<string, RegExp[]> = {
  EnvoyFilter: [/^\/spec\/configPatches\/\d+\/patch\/value(\/|$)/],
};

/** Runs `validate` on a proxy of `data`; returns the JSON pointers of properties the validator never read. */
function trackUnknownKeys(data: object, validate: (proxy: object) => void): string[] {
  const accessed = new Map<object, { path: string; keys: Set<string> }>();
  const proxies = new WeakMap<object, object>();
  const wrap = (target: unknown, path: string): unknown => {
    if (target === null || typeof target !== "object") return target;
    const cached = proxies.get(target);
    if (cached) return cached;
    const keys = new Set<string>();
    accessed.set(target, { path, keys });
    const proxy = new Proxy(target, {
      get(t, key, receiver) {
        const value = Reflect.get(t, key, receiver);
        if (typeof key !== "string") return value;
        keys.add(key);
        return Object.hasOwn(t, key) ? wrap(value, `${path}/${key.replace(/~/g, "~0").replace(/\//g, "~1")}`) : value;
      },
    });
    proxies.set(target, proxy);
    return proxy;
  };
  validate(wrap(data, "") as object);
  const unknown: string[] = [];
  const walk = (value: unknown, path: string) => {
    if (value === null || typeof value !== "object") return;
    if (Array.isArray(value)) {
      value.forEach((v, i) => walk(v, `${path}/${i}`));
      return;
    }
    const seen = accessed.get(value)?.keys;
    for (const [key, child] of Object.entries(value)) {
      const childPath = `${path}/${key.replace(/~/g, "~0").replace(/\//g, "~1")}`;
      if (!seen?.has(key)) unknown.push(childPath);
      else walk(child, childPath);
    }
  };
  walk(data, "");
  return unknown;
}

/** Problems of one object: schema errors and unknown keys. Empty when it is valid. */
export function validateResource(resource: { apiVersion?: unknown; kind?: unknown }): string[] {
  const id = `${String(resource.apiVersion)}/${String(resource.kind)}`;
  const model = MODELS[id];
  if (!model) return [`${id}: no schema registered for this kind (add it to tests/mesh/validate.ts)`];
  const problems: string[] = [];
  const open = OPEN_PATHS[String(resource.kind)] ?? [];
  const data = structuredClone(resource);
  const unknown = trackUnknownKeys(data, (proxy) => {
    try {
      model.prototype.validate.call(proxy);
    } catch (err) {
      problems.push(`schema: ${(err as Error).message}`);
    }
  });
  for (const path of unknown) if (!open.some((re) => re.test(path))) problems.push(`unknown key ${path}`);
  return problems;
}
