// A tiny OTLP/HTTP trace receiver for tests: accepts what the services'
// exporters POST to <endpoint>/v1/traces (protobuf, as in production),
// decodes the few fields the tests look at and keeps the spans.
//
// Decoded with @bufbuild/protobuf's wire reader against the OTLP field
// numbers (opentelemetry/proto/collector/trace/v1/trace_service.proto and
// trace/v1/trace.proto), so no OTLP schema needs generating for it.
import * as http from "node:http";
import type { AddressInfo } from "node:net";
import { gunzipSync } from "node:zlib";
import { BinaryReader, WireType } from "@bufbuild/protobuf/wire";

export type AttributeValue = string | number | boolean | bigint;

export interface ReceivedSpan {
  service: string;
  /** Its resource's attributes (service.name among them). */
  resource: Record<string, AttributeValue>;
  /** Name of the instrumentation scope that made it ("@shop/runtime", "@opentelemetry/instrumentation-undici"). */
  scope: string;
  traceId: string;
  spanId: string;
  /** "" for a root span. */
  parentSpanId: string;
  name: string;
  kind: "internal" | "server" | "client" | "producer" | "consumer" | "unspecified";
  attributes: Record<string, AttributeValue>;
  /** 0 unset, 1 ok, 2 error. */
  statusCode: number;
}

export interface OtlpReceiver {
  /** What to set as OTEL_EXPORTER_OTLP_ENDPOINT. */
  readonly endpoint: string;
  readonly spans: ReceivedSpan[];
  close(): Promise<void>;
}

export async function startOtlpReceiver(): Promise<OtlpReceiver> {
  const spans: ReceivedSpan[] = [];
  const server = http.createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on("data", (c: Buffer) => chunks.push(c));
    req.on("end", () => {
      if (req.method !== "POST" || req.url !== "/v1/traces") {
        res.writeHead(404).end();
        return;
      }
      try {
        let body: Uint8Array = Buffer.concat(chunks);
        if (req.headers["content-encoding"] === "gzip") body = gunzipSync(body);
        if (!String(req.headers["content-type"]).startsWith("application/x-protobuf"))
          throw new Error(`unexpected content type ${req.headers["content-type"]}`);
        spans.push(...decodeExportRequest(body));
        // An empty ExportTraceServiceResponse: everything accepted.
        res.writeHead(200, { "content-type": "application/x-protobuf" }).end();
      } catch (err) {
        res.writeHead(400).end(String(err));
      }
    });
  });
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  const { port } = server.address() as AddressInfo;
  return {
    endpoint: `http://127.0.0.1:${port}`,
    spans,
    close: () =>
      new Promise<void>((resolve) => {
        server.close(() => resolve());
        server.closeAllConnections();
      }),
  };
}

type FieldReader = (fieldNo: number, wireType: WireType, reader: BinaryReader) => boolean;

/** Calls `read` for each field; fields it does not consume (returns false) are skipped. */
function eachField(bytes: Uint8Array, read: FieldReader): void {
  const reader = new BinaryReader(bytes);
  while (reader.pos < reader.len) {
    const [fieldNo, wireType] = reader.tag();
    if (!read(fieldNo, wireType, reader)) reader.skip(wireType, fieldNo);
  }
}

const KINDS: ReceivedSpan["kind"][] = ["unspecified", "internal", "server", "client", "producer", "consumer"];
const hex = (b: Uint8Array) => Buffer.from(b).toString("hex");

function decodeExportRequest(bytes: Uint8Array): ReceivedSpan[] {
  const out: ReceivedSpan[] = [];
  // ExportTraceServiceRequest.resource_spans = 1
  eachField(bytes, (no, _wt, r) => {
    if (no !== 1) return false;
    const resource: Record<string, AttributeValue> = {};
    const scopeSpans: Uint8Array[] = [];
    // ResourceSpans: resource = 1, scope_spans = 2
    eachField(r.bytes(), (no2, _wt2, r2) => {
      if (no2 === 1) {
        // Resource.attributes = 1
        eachField(r2.bytes(), (no3, _wt3, r3) => {
          if (no3 !== 1) return false;
          const [key, value] = decodeKeyValue(r3.bytes());
          resource[key] = value;
          return true;
        });
        return true;
      }
      if (no2 === 2) {
        scopeSpans.push(r2.bytes());
        return true;
      }
      return false;
    });
    const service = String(resource["service.name"] ?? "");
    for (const scope of scopeSpans) {
      // ScopeSpans: scope = 1 (InstrumentationScope.name = 1), spans = 2
      let scopeName = "";
      const spanBytes: Uint8Array[] = [];
      eachField(scope, (no4, _wt4, r4) => {
        if (no4 === 1) {
          eachField(r4.bytes(), (no5, _wt5, r5) => {
            if (no5 !== 1) return false;
            scopeName = r5.string();
            return true;
          });
          return true;
        }
        if (no4 !== 2) return false;
        spanBytes.push(r4.bytes());
        return true;
      });
      for (const bytes of spanBytes) out.push({ ...decodeSpan(bytes, service), resource, scope: scopeName });
    }
    return true;
  });
  return out;
}

function decodeSpan(bytes: Uint8Array, service: string): Omit<ReceivedSpan, "resource" | "scope"> {
  const span: Omit<ReceivedSpan, "resource" | "scope"> = {
    service,
    traceId: "",
    spanId: "",
    parentSpanId: "",
    name: "",
    kind: "unspecified",
    attributes: {},
    statusCode: 0,
  };
  eachField(bytes, (no, _wt, r) => {
    switch (no) {
      case 1:
        span.traceId = hex(r.bytes());
        return true;
      case 2:
        span.spanId = hex(r.bytes());
        return true;
      case 4:
        span.parentSpanId = hex(r.bytes());
        return true;
      case 5:
        span.name = r.string();
        return true;
      case 6:
        span.kind = KINDS[r.int32()] ?? "unspecified";
        return true;
      case 9: {
        const [key, value] = decodeKeyValue(r.bytes());
        span.attributes[key] = value;
        return true;
      }
      case 15:
        // Status.code = 3
        eachField(r.bytes(), (sno, _swt, sr) => {
          if (sno !== 3) return false;
          span.statusCode = sr.int32();
          return true;
        });
        return true;
      default:
        return false;
    }
  });
  return span;
}

function decodeKeyValue(bytes: Uint8Array): [string, AttributeValue] {
  let key = "";
  let value: AttributeValue = "";
  eachField(bytes, (no, _wt, r) => {
    if (no === 1) {
      key = r.string();
      return true;
    }
    if (no !== 2) return false;
    // AnyValue: string 1, bool 2, int 3, double 4 (arrays, maps, bytes not needed here)
    eachField(r.bytes(), (vno, _vwt, vr) => {
      if (vno === 1) value = vr.string();
      else if (vno === 2) value = vr.bool();
      else if (vno === 3) value = Number(vr.int64());
      else if (vno === 4) value = vr.double();
      else return false;
      return true;
    });
    return true;
  });
  return [key, value];
}
