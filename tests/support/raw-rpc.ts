// RPCs sent as raw bytes, the way a hostile or broken client would send them:
// no Connect client to validate, frame or encode the request, so tests can
// send anything (undecodable bytes, malformed JSON, wrong framing, oversize
// bodies) in any protocol, and read back what the server really answered:
// its code, message and size.
import * as http from "node:http";
import * as http2 from "node:http2";
import { Readable } from "node:stream";
import { Code } from "@connectrpc/connect";

export type WireProtocol = "connect" | "grpc" | "grpc-web";
export type WireFormat = "proto" | "json";

export interface RawCall {
  /** Base URL, e.g. http://127.0.0.1:7002 */
  baseUrl: string;
  /** /package.Service/Method */
  path: string;
  protocol: WireProtocol;
  format: WireFormat;
  /** Server-streaming method: Connect uses its enveloped streaming protocol. */
  streaming: boolean;
  /** The request message bytes as they go in the envelope or body (framed here unless `raw`). */
  body: Uint8Array;
  /** Send `body` as is, without the protocol's envelope. */
  raw?: boolean;
  /** HTTP/1.1 instead of HTTP/2 (the gateway's browser port; not for gRPC). */
  http1?: boolean;
  headers?: Record<string, string>;
  /** Deadline sent to the server (Connect-Timeout-Ms / grpc-timeout). */
  serverTimeoutMs?: number;
  /** How long the client waits for the whole answer before giving up. */
  clientTimeoutMs?: number;
}

export interface RawAnswer {
  httpStatus: number;
  /** The error code the server answered; undefined for success. */
  code: Code | undefined;
  /** The error message, empty on success. */
  message: string;
  /** Bytes of the response body plus trailers. */
  bytes: number;
  ms: number;
  /** Set when the server's answer was not a well-formed answer of the protocol. */
  malformed?: string;
}

/** The client gave up waiting for the answer. */
export class NoAnswerError extends Error {
  override name = "NoAnswerError";
}

const ENVELOPE_END_STREAM = 0x02;
const GRPC_WEB_TRAILER = 0x80;

export function envelope(flags: number, payload: Uint8Array): Buffer {
  const header = Buffer.alloc(5);
  header.writeUInt8(flags, 0);
  header.writeUInt32BE(payload.byteLength, 1);
  return Buffer.concat([header, payload]);
}

function requestHeaders(call: RawCall): Record<string, string> {
  const timeout = call.serverTimeoutMs;
  const headers: Record<string, string> = {};
  if (call.protocol === "connect") {
    headers["content-type"] = call.streaming ? `application/connect+${call.format}` : `application/${call.format}`;
    headers["connect-protocol-version"] = "1";
    if (timeout !== undefined) headers["connect-timeout-ms"] = String(timeout);
  } else {
    headers["content-type"] = `application/${call.protocol}+${call.format}`;
    if (call.protocol === "grpc") headers.te = "trailers";
    if (timeout !== undefined) headers["grpc-timeout"] = `${String(timeout)}m`;
  }
  return { ...headers, ...call.headers };
}

function requestBody(call: RawCall): Buffer {
  const framed = !call.raw && (call.protocol !== "connect" || call.streaming);
  return framed ? envelope(0, call.body) : Buffer.from(call.body);
}

/** Sends one call and parses the answer; rejects with NoAnswerError after clientTimeoutMs. */
export async function rawCall(call: RawCall): Promise<RawAnswer> {
  const started = performance.now();
  const response = await (call.http1 ? sendHttp1(call) : sendHttp2(call));
  return { ...interpret(call, response), ms: performance.now() - started };
}

interface HttpResponse {
  status: number;
  headers: Record<string, string | string[] | undefined>;
  trailers: Record<string, string | string[] | undefined>;
  body: Buffer;
}

function sendHttp2(call: RawCall): Promise<HttpResponse> {
  return new Promise((resolve, reject) => {
    const session = http2.connect(call.baseUrl);
    const timer = setTimeout(() => {
      session.destroy();
      reject(new NoAnswerError(`no answer within ${String(call.clientTimeoutMs ?? 15_000)} ms`));
    }, call.clientTimeoutMs ?? 15_000);
    session.on("error", (err: Error) => {
      clearTimeout(timer);
      reject(err);
    });
    const stream = session.request({ ":method": "POST", ":path": call.path, ...requestHeaders(call) });
    const out: HttpResponse = { status: 0, headers: {}, trailers: {}, body: Buffer.alloc(0) };
    const chunks: Buffer[] = [];
    stream.on("response", (h) => {
      out.status = Number(h[":status"]);
      out.headers = h;
    });
    stream.on("trailers", (t: http2.IncomingHttpHeaders) => {
      out.trailers = t;
    });
    stream.on("data", (d: Buffer) => chunks.push(d));
    // A reset after the answer (an upload cut off) still leaves the answer.
    stream.on("error", () => {});
    stream.on("close", () => {
      clearTimeout(timer);
      session.close();
      out.body = Buffer.concat(chunks);
      if (out.status === 0) reject(new Error(`stream closed without an answer (rst code ${String(stream.rstCode)})`));
      else resolve(out);
    });
    // In pieces, as a client streaming an upload would: one write of the
    // whole body hands it all to the session at once, and a body over the
    // session's memory limit (10 MB) is then refused by our own side
    // (ENHANCE_YOUR_CALM) before the server has a say.
    Readable.from(chunked(requestBody(call)), { objectMode: false }).pipe(stream);
  });
}

const UPLOAD_CHUNK_BYTES = 64 * 1024;

function* chunked(body: Buffer): Generator<Buffer> {
  for (let at = 0; at < body.length; at += UPLOAD_CHUNK_BYTES) yield body.subarray(at, at + UPLOAD_CHUNK_BYTES);
}

function sendHttp1(call: RawCall): Promise<HttpResponse> {
  return new Promise((resolve, reject) => {
    const url = new URL(call.baseUrl);
    const body = requestBody(call);
    const req = http.request({
      host: url.hostname,
      port: url.port,
      path: call.path,
      method: "POST",
      agent: false,
      // keep-alive, as browsers send it: a server that answers before it read
      // the body closes at once a connection the client asked to close,
      // possibly before the client, still writing, read the answer.
      headers: { ...requestHeaders(call), "content-length": body.length, connection: "keep-alive" },
      timeout: call.clientTimeoutMs ?? 15_000,
    });
    req.on("timeout", () => {
      req.destroy(new NoAnswerError(`no answer within ${String(call.clientTimeoutMs ?? 15_000)} ms`));
    });
    req.on("error", reject);
    req.on("response", (res) => {
      const chunks: Buffer[] = [];
      res.on("data", (d: Buffer) => chunks.push(d));
      res.on("error", reject);
      res.on("end", () => {
        resolve({
          status: res.statusCode ?? 0,
          headers: res.headers,
          trailers: res.trailers,
          body: Buffer.concat(chunks),
        });
      });
    });
    req.end(body);
  });
}

/** Connect's error code strings ("invalid_argument") to Code. */
function codeFromString(s: string): Code | undefined {
  const name = s.replace(/(^|_)(\w)/g, (_m, _u, c: string) => c.toUpperCase());
  const code = (Code as unknown as Record<string, Code | undefined>)[name];
  return typeof code === "number" ? code : undefined;
}

function header(h: Record<string, string | string[] | undefined>, name: string): string | undefined {
  const v = h[name];
  return Array.isArray(v) ? v[0] : v;
}

function interpret(call: RawCall, res: HttpResponse): Omit<RawAnswer, "ms"> {
  const trailerBytes = JSON.stringify(res.trailers).length;
  const bytes = res.body.length + trailerBytes;
  const base = { httpStatus: res.status, bytes };
  if (call.protocol === "connect" && !call.streaming) {
    if (res.status === 200) return { ...base, code: undefined, message: "" };
    return { ...base, ...connectError(res.body.toString("utf8")) };
  }
  if (call.protocol === "grpc") {
    const status = header(res.trailers, "grpc-status") ?? header(res.headers, "grpc-status");
    const message = header(res.trailers, "grpc-message") ?? header(res.headers, "grpc-message") ?? "";
    if (status === undefined || !/^\d+$/.test(status)) {
      return { ...base, code: Code.Unknown, message: "", malformed: `no grpc-status (HTTP ${String(res.status)})` };
    }
    return { ...base, code: grpcCode(status), message: decodeURIComponent(message) };
  }
  // Enveloped answers: Connect streaming (end-stream frame) or gRPC-Web (trailer frame).
  if (res.status !== 200) return { ...base, ...connectError(res.body.toString("utf8")) };
  const frames = splitEnvelopes(res.body);
  if (!frames) return { ...base, code: Code.Unknown, message: "", malformed: "answer is not a sequence of envelopes" };
  const last = frames.at(-1);
  if (call.protocol === "connect") {
    if (!last || (last.flags & ENVELOPE_END_STREAM) === 0) {
      return { ...base, code: Code.Unknown, message: "", malformed: "no end-stream frame" };
    }
    const end = parseJson(last.data.toString("utf8")) as { error?: { code?: string; message?: string } } | undefined;
    if (!end) return { ...base, code: Code.Unknown, message: "", malformed: "end-stream frame is not JSON" };
    if (!end.error) return { ...base, code: undefined, message: "" };
    return errorFields(base, end.error.code, end.error.message);
  }
  const trailer = last && (last.flags & GRPC_WEB_TRAILER) !== 0 ? last.data.toString("utf8") : undefined;
  const status = trailer ? /^grpc-status: ?(\d+)/im.exec(trailer)?.[1] : header(res.headers, "grpc-status");
  if (status === undefined) return { ...base, code: Code.Unknown, message: "", malformed: "no grpc-status trailer" };
  const message = trailer ? (/^grpc-message: ?(.*)$/im.exec(trailer)?.[1] ?? "") : "";
  return { ...base, code: grpcCode(status), message: decodeURIComponent(message.trim()) };
}

/** grpc-status 0 is OK. */
function grpcCode(status: string): Code | undefined {
  const n = Number(status);
  return n === 0 ? undefined : Code[Code[n] as keyof typeof Code];
}

function connectError(text: string): { code: Code; message: string; malformed?: string } {
  const json = parseJson(text) as { code?: string; message?: string } | undefined;
  if (!json || typeof json.code !== "string") {
    return { code: Code.Unknown, message: text.slice(0, 200), malformed: "error body is not a Connect error" };
  }
  return errorFields({}, json.code, json.message);
}

function errorFields<T extends object>(base: T, code: string | undefined, message: string | undefined) {
  const parsed = code === undefined ? undefined : codeFromString(code);
  if (parsed === undefined) {
    return { ...base, code: Code.Unknown, message: message ?? "", malformed: `unknown code ${String(code)}` };
  }
  return { ...base, code: parsed, message: message ?? "" };
}

function parseJson(text: string): unknown {
  try {
    return JSON.parse(text) as unknown;
  } catch {
    return undefined;
  }
}

function splitEnvelopes(body: Buffer): { flags: number; data: Buffer }[] | undefined {
  const frames: { flags: number; data: Buffer }[] = [];
  let offset = 0;
  while (offset < body.length) {
    if (body.length - offset < 5) return undefined;
    const flags = body.readUInt8(offset);
    const length = body.readUInt32BE(offset + 1);
    if (body.length - offset - 5 < length) return undefined;
    frames.push({ flags, data: body.subarray(offset + 5, offset + 5 + length) });
    offset += 5 + length;
  }
  return frames;
}

export interface UploadAnswer {
  httpStatus: number;
  code: Code | undefined;
  message: string;
  /** Time until the answer's headers (or trailers) arrived. */
  ms: number;
  /** Body bytes the client got to write before the server's answer ended the call. */
  sent: number;
}

/**
 * POSTs `total` bytes of filler (spaces: valid JSON whitespace, and a valid
 * prefix of nothing in binary) as fast as the server lets it, streamed, never
 * held in memory; over HTTP/1.1 with Content-Length, or HTTP/2 without (the
 * server cannot know the size up front). Resolves once the server answered.
 */
export function rawUpload(options: {
  baseUrl: string;
  path: string;
  contentType: string;
  total: number;
  http1?: boolean;
  headers?: Record<string, string>;
}): Promise<UploadAnswer> {
  const chunk = Buffer.alloc(64 * 1024, 0x20);
  const started = performance.now();
  const parse = (status: number, headers: Record<string, unknown>, body: string, sent: number): UploadAnswer => {
    const ms = performance.now() - started;
    const grpcStatus = headers["grpc-status"];
    if (typeof grpcStatus === "string") {
      return {
        httpStatus: status,
        code: grpcCode(grpcStatus),
        message: typeof headers["grpc-message"] === "string" ? headers["grpc-message"] : "",
        ms,
        sent,
      };
    }
    if (status === 200) return { httpStatus: status, code: undefined, message: "", ms, sent };
    const { code, message } = connectError(body);
    return { httpStatus: status, code, message, ms, sent };
  };
  if (options.http1) {
    return new Promise((resolve, reject) => {
      const url = new URL(options.baseUrl);
      const req = http.request({
        host: url.hostname,
        port: url.port,
        path: options.path,
        method: "POST",
        agent: false,
        headers: {
          "content-type": options.contentType,
          "content-length": options.total,
          connection: "keep-alive",
          ...options.headers,
        },
      });
      let sent = 0;
      let answered = false;
      const pump = () => {
        while (!answered && sent < options.total) {
          sent += chunk.length;
          if (!req.write(chunk)) return void req.once("drain", pump);
        }
        if (!answered) req.end();
      };
      req.on("response", (res) => {
        answered = true;
        const chunks: Buffer[] = [];
        res.on("data", (d: Buffer) => chunks.push(d));
        res.on("end", () => {
          resolve(parse(res.statusCode ?? 0, res.headers, Buffer.concat(chunks).toString(), sent));
          req.destroy();
        });
      });
      req.on("error", (err) => {
        if (!answered) reject(err);
      });
      pump();
    });
  }
  return new Promise((resolve, reject) => {
    const session = http2.connect(options.baseUrl);
    session.on("error", reject);
    const stream = session.request({
      ":method": "POST",
      ":path": options.path,
      "content-type": options.contentType,
      te: "trailers",
      ...options.headers,
    });
    let sent = 0;
    const pump = () => {
      while (sent < options.total && !stream.closed) {
        sent += chunk.length;
        if (!stream.write(chunk)) return void stream.once("drain", pump);
      }
      stream.end();
    };
    let status = 0;
    let headers: Record<string, unknown> = {};
    const chunks: Buffer[] = [];
    stream.on("response", (h) => {
      status = Number(h[":status"]);
      headers = { ...h };
    });
    stream.on("trailers", (t: http2.IncomingHttpHeaders) => {
      headers = { ...headers, ...t };
    });
    stream.on("data", (d: Buffer) => chunks.push(d));
    stream.on("error", () => {});
    stream.on("close", () => {
      session.close();
      if (status === 0) reject(new Error("no answer"));
      else resolve(parse(status, headers, Buffer.concat(chunks).toString(), sent));
    });
    pump();
  });
}
