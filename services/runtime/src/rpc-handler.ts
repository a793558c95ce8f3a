// The Node request handler for the RPCs of a server: connect-node's router
// and protocol handlers (Connect, gRPC, gRPC-Web), with what a server facing
// untrusted callers needs on top:
//
// - A size limit on every request message (readMaxBytes). connect-es checks
//   a declared Content-Length or a gRPC frame's length before reading the
//   body, and stops reading once more arrives than the limit, answering
//   ResourceExhausted; nothing is buffered past the limit (gzip and brotli
//   bodies are bounded after decompression too).
// - An upload the server stopped reading is cut off after the answer (see
//   endUnreadUploads, which the server applies to every request).
// - Undecodable request messages answer InvalidArgument. connect-es reports
//   binary input it cannot parse as Internal ("parse binary: ..."), and for
//   unary calls it does so before any interceptor runs, so the error
//   interceptor never sees it. A call that failed with Internal before its
//   interceptor chain was entered (see markIntercepted) failed on its request
//   bytes: its answer is rewritten, in the protocol it was sent in.
import * as http2 from "node:http2";
import {
  Code,
  ConnectError,
  createConnectRouter,
  createContextKey,
  type ConnectRouter,
  type ContextValues,
  type Interceptor,
} from "@connectrpc/connect";
import {
  compressionBrotli,
  compressionGzip,
  universalRequestFromNodeRequest,
  universalResponseToNodeResponse,
} from "@connectrpc/connect-node";
import {
  createAsyncIterable,
  encodeEnvelope,
  readAllBytes,
  type UniversalServerResponse,
} from "@connectrpc/connect/protocol";
import {
  codeToHttpStatus,
  endStreamFlag,
  endStreamToJson,
  errorFromJsonBytes,
  errorToJsonBytes,
} from "@connectrpc/connect/protocol-connect";
import { findTrailerError, setTrailerStatus } from "@connectrpc/connect/protocol-grpc";
import { trailerFlag, trailerParse, trailerSerialize } from "@connectrpc/connect/protocol-grpc-web";
import { conditionalGet, type HttpCachingPolicy } from "./conditional-get.ts";
import type { HttpHandler } from "./server.ts";

/** The default largest request message a server reads: 4 MiB, as gRPC's own default. */
export const DEFAULT_READ_MAX_BYTES = 4 * 1024 * 1024;

/** Whether a call got as far as its interceptors; one per call, set by markIntercepted. */
const callStageKey = createContextKey<{ intercepted: boolean } | undefined>(undefined, {
  description: "whether the call reached its interceptors",
});

/**
 * The first interceptor of every chain: records that the call's request was
 * decoded (unary) or that its stream was opened, so a later Internal is not
 * mistaken for an undecodable request.
 */
export const markIntercepted: Interceptor = (next) => (req) => {
  const stage = req.contextValues.get(callStageKey);
  if (stage) stage.intercepted = true;
  return next(req);
};

export interface RpcHandlerOptions {
  routes(router: ConnectRouter): void;
  /** Largest request message, after decompression. */
  readMaxBytes: number;
  /** Aborted on a hard stop: every handler's ctx.signal is aborted. */
  shutdownSignal: AbortSignal;
  contextValues(): ContextValues;
  /** Caching headers (and 304s) for Connect GET answers of the methods it names; see conditional-get.ts. */
  httpCaching?: HttpCachingPolicy;
}

export function createRpcHandler(options: RpcHandlerOptions): HttpHandler {
  const router = createConnectRouter({
    readMaxBytes: options.readMaxBytes,
    shutdownSignal: options.shutdownSignal,
    acceptCompression: [compressionGzip, compressionBrotli],
  });
  options.routes(router);
  const handlers = new Map(router.handlers.map((h) => [h.requestPath, h]));

  return (req, res) => {
    const url = req.url ?? "";
    const query = url.indexOf("?");
    const handler = handlers.get(query === -1 ? url : url.slice(0, query));
    if (!handler) {
      res.statusCode = 404;
      res.end();
      return;
    }
    const stage = { intercepted: false };
    const contextValues = options.contextValues().set(callStageKey, stage);
    const uReq = universalRequestFromNodeRequest(req, res, undefined, contextValues);
    const cacheControl = req.method === "GET" ? options.httpCaching?.(handler.method) : undefined;
    // One async function rather than a chain of then(): the steps that do
    // nothing for a call (most of them) cost no promise of their own.
    const answer = async () => {
      let uRes = await handler(uReq);
      if (!stage.intercepted) uRes = await undecodableAsInvalidArgument(uRes);
      if (cacheControl) uRes = await conditionalGet(uRes, cacheControl, headerValue(req.headers["if-none-match"]));
      await universalResponseToNodeResponse(uRes, res);
    };
    answer().catch((reason: unknown) => {
      // The client went away mid-answer; there is nobody to tell.
      if (ConnectError.from(reason).code === Code.Aborted) return;
      if (res.headersSent) return void res.destroy(reason instanceof Error ? reason : undefined);
      // connect-es failed to write its own answer (it throws while encoding
      // an error message that is not well-formed text into grpc-message:
      // a JSON decoder's message quoting half of an emoji). Answer in its
      // place rather than reset the stream with no answer at all.
      const error = stage.intercepted
        ? new ConnectError("internal error", Code.Internal)
        : new ConnectError(UNDECODABLE, Code.InvalidArgument);
      universalResponseToNodeResponse(errorAnswer(req.headers["content-type"] ?? "", error), res).catch(() =>
        res.destroy(),
      );
    });
  };
}

function headerValue(value: string | string[] | undefined): string | undefined {
  return Array.isArray(value) ? value.join(",") : value;
}

/** An upload still arriving after its answer is read on and discarded for at most this long... */
const LINGER_MS = 2_000;
/** ...and at most this many bytes; past them it is no longer read, until the connection closes. */
const LINGER_BYTES = 8 * 1024 * 1024;

/**
 * `handler`, with uploads the answer did not wait for (too large, or refused
 * before the body was needed) cut off once the answer is sent. HTTP/2: the
 * stream is reset with NO_ERROR, which tells the client to stop sending
 * (RFC 9113, 8.1). HTTP/1.1 has no such signal, and closing at once would
 * reset the connection under a client still writing, which may then never
 * read the answer; so the rest is read and discarded for a bounded time and
 * size first (as nginx's lingering close does), then the connection closes.
 * Past the size the upload is paused, not cut: closing a socket with unread
 * bytes sends a reset, which can destroy the answer in the client's receive
 * buffer before a fast writer has read it; paused, the client's writes stall
 * on flow control while it reads the answer, and the time bound closes.
 * (A client that sent `Connection: close` has its connection closed by Node
 * right after the answer, as it asked.)
 */
export function endUnreadUploads(handler: HttpHandler): HttpHandler {
  return (req, res) => {
    res.once("finish", () => {
      if (req.complete) return;
      if ("stream" in req) {
        const stream = req.stream;
        if (!stream.closed && !stream.destroyed) stream.close(http2.constants.NGHTTP2_NO_ERROR);
        return;
      }
      let discarded = 0;
      const close = () => {
        clearTimeout(timer);
        req.socket.destroy();
      };
      const timer = setTimeout(close, LINGER_MS);
      req.on("data", (chunk: Buffer) => {
        discarded += chunk.length;
        if (discarded > LINGER_BYTES) req.pause();
      });
      req.once("end", () => {
        clearTimeout(timer);
      });
      req.resume();
    });
    handler(req, res);
  };
}

const UNDECODABLE = "the request message could not be decoded";

/** An error answer in the protocol of a request with this Content-Type. */
function errorAnswer(contentType: string, error: ConnectError): UniversalServerResponse {
  const trailer = new Headers();
  if (contentType.startsWith("application/grpc-web")) {
    setTrailerStatus(trailer, error);
    const body = encodeEnvelope(trailerFlag, trailerSerialize(trailer));
    return { status: 200, header: new Headers({ "content-type": contentType }), body: createAsyncIterable([body]) };
  }
  if (contentType.startsWith("application/grpc")) {
    setTrailerStatus(trailer, error);
    return {
      status: 200,
      header: new Headers({ "content-type": contentType }),
      body: createAsyncIterable([]),
      trailer,
    };
  }
  if (contentType.startsWith("application/connect+")) {
    const end = new TextEncoder().encode(JSON.stringify(endStreamToJson(new Headers(), error, {})));
    return {
      status: 200,
      header: new Headers({ "content-type": contentType }),
      body: createAsyncIterable([encodeEnvelope(endStreamFlag, end)]),
    };
  }
  const body = errorToJsonBytes(error, {});
  return {
    status: codeToHttpStatus(error.code),
    header: new Headers({ "content-type": "application/json", "content-length": String(body.byteLength) }),
    body: createAsyncIterable([body]),
  };
}

/** The caller's error for a request that connect-es could not decode (its Internal "parse binary: ..."). */
export function undecodableRequest(original: ConnectError): ConnectError {
  // connect-es' message names what protobuf-es could not read ("premature
  // EOF", "invalid wire type"): useful to the caller, never an internal.
  const detail = original.rawMessage
    .replace(/^parse binary: /, "")
    .slice(0, 200)
    .toWellFormed();
  return new ConnectError(`${UNDECODABLE}: ${detail}`, Code.InvalidArgument);
}

/** `uRes`, with an Internal error (raised before any interceptor) answered as InvalidArgument instead. */
async function undecodableAsInvalidArgument(uRes: UniversalServerResponse): Promise<UniversalServerResponse> {
  const contentType = uRes.header?.get("content-type") ?? "";
  if (contentType.startsWith("application/grpc-web")) {
    // The error is the body's only frame: the trailer.
    if (!uRes.body) return uRes;
    const frame = await readAllBytes(uRes.body, 64 * 1024);
    const error = frame[0] === trailerFlag ? findTrailerError(trailerParse(frame.subarray(5))) : undefined;
    if (error?.code !== Code.Internal) return { ...uRes, body: createAsyncIterable([frame]) };
    return { ...uRes, body: errorAnswer(contentType, undecodableRequest(error)).body };
  }
  if (contentType.startsWith("application/grpc")) {
    const trailer = uRes.trailer;
    const error = trailer ? findTrailerError(trailer) : undefined;
    if (trailer && error?.code === Code.Internal) setTrailerStatus(trailer, undecodableRequest(error));
    return uRes;
  }
  // Connect unary: an error is a JSON body with an HTTP error status.
  if (uRes.status !== codeToHttpStatus(Code.Internal) || !uRes.body || uRes.header?.has("content-encoding")) {
    return uRes;
  }
  const body = await readAllBytes(uRes.body, 64 * 1024);
  const error = errorFromJsonBytes(body, undefined, new ConnectError("", Code.Unknown));
  if (error.code !== Code.Internal) return { ...uRes, body: createAsyncIterable([body]) };
  const replacement = errorToJsonBytes(undecodableRequest(error), {});
  const header = new Headers(uRes.header);
  header.set("content-length", String(replacement.byteLength));
  return {
    ...uRes,
    status: codeToHttpStatus(Code.InvalidArgument),
    header,
    body: createAsyncIterable([replacement]),
  };
}
