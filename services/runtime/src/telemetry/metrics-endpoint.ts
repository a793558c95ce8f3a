// The Prometheus scrape endpoint: GET /metrics on its own port (see
// settings.ts), served by our own HTTP server rather than the exporter's so
// start-up waits for it and shutdown closes it. A port already in use is
// logged, not fatal: metrics are not worth refusing to serve orders for, and
// the missing scrape target is what alerts.
import * as http from "node:http";
import type { AddressInfo } from "node:net";
import type { PrometheusExporter } from "@opentelemetry/exporter-prometheus";
import type { Logger } from "../log.ts";

export const METRICS_PATH = "/metrics";

export interface MetricsEndpoint {
  readonly port: number;
  stop(): Promise<void>;
}

export async function serveMetrics(
  exporter: PrometheusExporter,
  options: { host: string; port: number; logger: Logger },
): Promise<MetricsEndpoint | undefined> {
  const server = http.createServer((req, res) => {
    const path = (req.url ?? "").split("?")[0];
    if (path === METRICS_PATH && (req.method === "GET" || req.method === "HEAD")) {
      exporter.getMetricsRequestHandler(req, res);
      return;
    }
    res.statusCode = 404;
    res.end("not found\n");
  });
  // Scrapers keep connections alive; do not let them hold the process open.
  server.keepAliveTimeout = 5000;
  try {
    await new Promise<void>((resolve, reject) => {
      server.once("error", reject);
      server.listen(options.port, options.host, () => {
        server.off("error", reject);
        resolve();
      });
    });
  } catch (err) {
    options.logger.error(
      { err, port: options.port },
      "cannot serve metrics; continuing without a metrics endpoint (set METRICS_PORT)",
    );
    return undefined;
  }
  const port = (server.address() as AddressInfo).port;
  options.logger.info({ port, path: METRICS_PATH }, "serving metrics");
  return {
    port,
    stop: () =>
      new Promise<void>((resolve) => {
        server.close(() => resolve());
        server.closeAllConnections();
      }),
  };
}
