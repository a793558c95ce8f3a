// The OTLP/gRPC exporters left out of the service bundles (an esbuild plugin
// for scripts/build-services.ts). @opentelemetry/sdk-node imports every
// exporter it could build from OTEL_* variables, among them the three
// OTLP/gRPC ones and, through them, @grpc/grpc-js and protobufjs: over 1 MB
// of source that each service process would parse and hold. The services
// never build one: service-telemetry.ts gives the NodeSDK its span processor
// (OTLP/HTTP protobuf), its metric reader (Prometheus) and no log
// processors, so none comes from the environment. In the bundle each of
// them is a class that says so if it is ever constructed.
import type { Plugin } from "esbuild";

const GRPC_EXPORTERS = /^@opentelemetry\/exporter-(trace|metrics|logs)-otlp-grpc$/;
const NAMESPACE = "without-grpc-exporters";

export const withoutGrpcExporters: Plugin = {
  name: NAMESPACE,
  setup(build) {
    build.onResolve({ filter: GRPC_EXPORTERS }, (args) => ({ path: args.path, namespace: NAMESPACE }));
    build.onLoad({ filter: /.*/, namespace: NAMESPACE }, (args) => ({
      loader: "js",
      contents: ["OTLPTraceExporter", "OTLPMetricExporter", "OTLPLogExporter"]
        .map(
          (name) =>
            `export class ${name} { constructor() { throw new Error(${JSON.stringify(
              `${args.path} is not in the service bundles (scripts/without-grpc-exporters.ts): the services export OTLP over HTTP`,
            )}); } }`,
        )
        .join("\n"),
    }));
  },
};
