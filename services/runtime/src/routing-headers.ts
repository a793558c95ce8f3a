// Routing headers: request headers the mesh routes on (mesh/istio's
// VirtualServices match them to pick a release track), declared once here.
// A header the mesh routes on is only useful if it reaches every hop, so it
// travels exactly like the W3C trace context: taken from each incoming
// request (and each consumed event), kept in the active OpenTelemetry
// context, and put on every call to a dependency and into every event
// enqueued meanwhile (see telemetry/trace-context.ts). `x-canary: v2` on a
// storefront call therefore reaches order-v2 behind the gateway, and the
// saga events of that order carry it on to the calls their handlers make.
import { createContextKey, type Context, type TextMapGetter, type TextMapPropagator } from "@opentelemetry/api";

/**
 * The declared routing headers, by purpose. Values name a release track:
 * `x-canary: v2` picks a canary's v2 track, `x-preview: green` the colour of
 * a blue-green release that is not live yet (mesh/generator/config.ts).
 */
export const ROUTING_HEADERS = { canary: "x-canary", preview: "x-preview" } as const;

export const ROUTING_HEADER_NAMES: readonly string[] = Object.values(ROUTING_HEADERS);

/** A track name: what the mesh can match on; anything else is not passed on. */
const TRACK_VALUE = /^[a-z0-9][a-z0-9-]{0,31}$/;

const routingKey = createContextKey("shop routing headers");

/** The routing headers of the work `ctx` belongs to (empty when there are none). */
export function routingHeadersOf(ctx: Context): Readonly<Record<string, string>> {
  return (ctx.getValue(routingKey) as Record<string, string> | undefined) ?? {};
}

/** `ctx` carrying these routing headers (values that are not track names are dropped). */
export function withRoutingHeaders(ctx: Context, headers: Readonly<Record<string, string>>): Context {
  const valid = Object.fromEntries(
    Object.entries(headers).filter(([name, value]) => ROUTING_HEADER_NAMES.includes(name) && TRACK_VALUE.test(value)),
  );
  return Object.keys(valid).length > 0 ? ctx.setValue(routingKey, valid) : ctx;
}

/** A TextMapPropagator for the routing headers, composed with the trace-context one. */
export const routingHeadersPropagator: TextMapPropagator = {
  inject(ctx, carrier, setter) {
    for (const [name, value] of Object.entries(routingHeadersOf(ctx))) setter.set(carrier, name, value);
  },
  extract<Carrier>(ctx: Context, carrier: Carrier, getter: TextMapGetter<Carrier>): Context {
    const found: Record<string, string> = {};
    for (const name of ROUTING_HEADER_NAMES) {
      const raw = getter.get(carrier, name);
      const value = Array.isArray(raw) ? raw[0] : raw;
      if (value !== undefined) found[name] = value.trim().toLowerCase();
    }
    return withRoutingHeaders(ctx, found);
  },
  fields: () => [...ROUTING_HEADER_NAMES],
};
