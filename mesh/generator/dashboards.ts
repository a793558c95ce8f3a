// Grafana dashboards for the dev cluster (provisioned by mesh/base/dev), over
// the metrics every service serves on /metrics (services/runtime/src/telemetry)
// as Prometheus scrapes them: through the sidecar's merged endpoint, labelled
// with the pod's `app` and `version` (the release track), so each panel can
// compare a canary or the idle colour with the live track.
//
// tests/observability checks that every metric and label these queries use is
// served by the running services.

export interface Panel {
  title: string;
  /** PromQL, one per series group; `{{label}}` in the legend. */
  queries: { expr: string; legend: string }[];
  unit?: string;
}

export interface Dashboard {
  uid: string;
  title: string;
  description: string;
  panels: Panel[];
}

const rate = (expr: string) => `sum by (app, version) (rate(${expr}[$__rate_interval]))`;

export const DASHBOARDS: Dashboard[] = [
  {
    uid: "shop-rpc-red",
    title: "Shop: RPCs (rate, errors, duration)",
    description: "Per service, track and method: requests, failures by code, latency percentiles.",
    panels: [
      {
        title: "Requests per second by method",
        unit: "reqps",
        queries: [
          {
            expr: 'sum by (app, version, rpc_method) (rate(rpc_server_requests_total{app=~"$app"}[$__rate_interval]))',
            legend: "{{app}} {{version}} {{rpc_method}}",
          },
        ],
      },
      {
        title: "Errors per second by method and code",
        unit: "reqps",
        queries: [
          {
            expr: 'sum by (app, version, rpc_method, rpc_response_status_code) (rate(rpc_server_requests_total{app=~"$app", rpc_response_status_code!="OK"}[$__rate_interval]))',
            legend: "{{app}} {{version}} {{rpc_method}} {{rpc_response_status_code}}",
          },
        ],
      },
      {
        title: "Error ratio by track (canary against stable)",
        unit: "percentunit",
        queries: [
          {
            expr: `${rate('rpc_server_requests_total{app=~"$app", rpc_response_status_code!="OK"}')} / ${rate('rpc_server_requests_total{app=~"$app"}')}`,
            legend: "{{app}} {{version}}",
          },
        ],
      },
      {
        title: "Latency p50 / p99 by method",
        unit: "s",
        queries: [0.5, 0.99].map((q) => ({
          expr: `histogram_quantile(${q}, sum by (le, app, version, rpc_method) (rate(rpc_server_call_duration_seconds_bucket{app=~"$app"}[$__rate_interval])))`,
          legend: `p${q * 100} {{app}} {{version}} {{rpc_method}}`,
        })),
      },
      {
        title: "Calls to dependencies by code",
        unit: "reqps",
        queries: [
          {
            expr: 'sum by (app, rpc_service, rpc_method, rpc_response_status_code) (rate(rpc_client_requests_total{app=~"$app"}[$__rate_interval]))',
            legend: "{{app}} → {{rpc_service}}/{{rpc_method}} {{rpc_response_status_code}}",
          },
        ],
      },
    ],
  },
  {
    uid: "shop-saga",
    title: "Shop: order saga",
    description: "Orders reaching a terminal state, by outcome and reason, and how long the saga took.",
    panels: [
      {
        title: "Orders completed per second by outcome and reason",
        unit: "ops",
        queries: [
          {
            expr: "sum by (outcome, reason, version) (rate(shop_orders_completed_total[$__rate_interval]))",
            legend: "{{outcome}} {{reason}} ({{version}})",
          },
        ],
      },
      {
        title: "Share of orders cancelled",
        unit: "percentunit",
        queries: [
          {
            expr: 'sum(rate(shop_orders_completed_total{outcome="cancelled"}[$__rate_interval])) / sum(rate(shop_orders_completed_total[$__rate_interval]))',
            legend: "cancelled",
          },
        ],
      },
      {
        title: "Saga duration p50 / p99 (placed to confirmed or cancelled)",
        unit: "s",
        queries: [0.5, 0.99].map((q) => ({
          expr: `histogram_quantile(${q}, sum by (le, outcome) (rate(shop_order_saga_duration_seconds_bucket[$__rate_interval])))`,
          legend: `p${q * 100} {{outcome}}`,
        })),
      },
    ],
  },
  {
    uid: "shop-events",
    title: "Shop: events (outbox, consumers, dead letters)",
    description: "Outbox lag, consumer lag and outcomes, and the dead letters waiting to be replayed.",
    panels: [
      {
        title: "Outbox: unpublished events",
        queries: [{ expr: "max by (app) (shop_outbox_unpublished_events)", legend: "{{app}}" }],
      },
      {
        title: "Outbox: age of the oldest unpublished event",
        unit: "s",
        queries: [{ expr: "max by (app) (shop_outbox_oldest_unpublished_age_seconds)", legend: "{{app}}" }],
      },
      {
        title: "Outbox: publish delay p99 (committed to acked by JetStream)",
        unit: "s",
        queries: [
          {
            expr: "histogram_quantile(0.99, sum by (le, app) (rate(shop_outbox_publish_delay_seconds_bucket[$__rate_interval])))",
            legend: "{{app}}",
          },
        ],
      },
      {
        title: "Consumer lag: messages not yet delivered, and delivered but not acked",
        queries: [
          { expr: "max by (consumer) (shop_consumer_pending_messages)", legend: "pending {{consumer}}" },
          { expr: "max by (consumer) (shop_consumer_ack_pending_messages)", legend: "unacked {{consumer}}" },
        ],
      },
      {
        title: "Deliveries per second by consumer and outcome",
        unit: "ops",
        queries: [
          {
            expr: "sum by (consumer, outcome, version) (rate(shop_consumer_messages_total[$__rate_interval]))",
            legend: "{{consumer}} {{outcome}} ({{version}})",
          },
        ],
      },
      {
        title: "Dead letters waiting (npm run dead-letters to inspect and replay)",
        queries: [{ expr: "max by (consumer) (shop_dead_letters)", legend: "{{consumer}}" }],
      },
    ],
  },
];

/** The Grafana JSON model of a dashboard (datasource by uid, as provisioned in mesh/base/dev). */
export function grafanaDashboard(d: Dashboard, prometheusUid: string): object {
  return {
    uid: d.uid,
    title: d.title,
    description: d.description,
    tags: ["shop"],
    schemaVersion: 39,
    version: 1,
    editable: true,
    refresh: "10s",
    time: { from: "now-30m", to: "now" },
    templating: {
      list: [
        {
          name: "app",
          label: "service",
          type: "query",
          datasource: { type: "prometheus", uid: prometheusUid },
          query: { query: "label_values(rpc_server_requests_total, app)", refId: "app" },
          includeAll: true,
          multi: true,
          current: { text: "All", value: "$__all" },
          allValue: ".*",
          refresh: 2,
        },
      ],
    },
    panels: d.panels.map((p, i) => ({
      id: i + 1,
      type: "timeseries",
      title: p.title,
      gridPos: { x: (i % 2) * 12, y: Math.floor(i / 2) * 8, w: 12, h: 8 },
      datasource: { type: "prometheus", uid: prometheusUid },
      fieldConfig: { defaults: { unit: p.unit ?? "short" }, overrides: [] },
      options: { legend: { displayMode: "list", placement: "bottom" }, tooltip: { mode: "multi" } },
      targets: p.queries.map((q, j) => ({
        refId: String.fromCharCode(65 + j),
        datasource: { type: "prometheus", uid: prometheusUid },
        expr: q.expr,
        legendFormat: q.legend,
      })),
    })),
  };
}

/** Every metric a dashboard query reads, with the labels it selects or groups by (for the check against /metrics). */
export function metricsQueried(dashboards: readonly Dashboard[] = DASHBOARDS): Map<string, Set<string>> {
  const out = new Map<string, Set<string>>();
  for (const d of dashboards) {
    for (const p of d.panels) {
      for (const q of p.queries) {
        const grouped = [...q.expr.matchAll(/by \(([^)]*)\)/g)].flatMap((m) => m[1].split(",").map((l) => l.trim()));
        for (const m of q.expr.matchAll(/([a-z_][a-z0-9_]*)(\{[^}]*\})?\[/g)) {
          const selected = [...(m.at(2) ?? "").matchAll(/([a-z_]+)\s*(?:=~|!=|=)/g)].map((x) => x[1]);
          const labels = out.get(m[1]) ?? new Set<string>();
          for (const l of [...grouped, ...selected]) if (l !== "le") labels.add(l);
          out.set(m[1], labels);
        }
        for (const m of q.expr.matchAll(/(?<!by )\(([a-z_][a-z0-9_]*)(\{[^}]*\})?\)/g)) {
          const labels = out.get(m[1]) ?? new Set<string>();
          for (const l of grouped) labels.add(l);
          out.set(m[1], labels);
        }
      }
    }
  }
  return out;
}
