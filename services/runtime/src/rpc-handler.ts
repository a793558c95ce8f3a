// The Node request handler for the RPCs of a server: connect-node's router
// and protocol handlers (Connect, gRPC, gRPC-Web), with what a server facing
// untrusted callers needs on top:
//
// - A size limit on every request message (readMaxBytes). connect-es checks
//   a declared Content-Length or a gRPC frame's length before reading the
//   body, and stops reading once more arrives than the limit, answering
//   ResourceExhausted; nothing is buffered past the limit (gzip and brotli
//   bodies are bounded after decompression too).
// - An upload the server stopped reading is not read on for nothing: the
//   HTTP/1.1 connection is closed after the answer (no keep-alive on a half
//   read body), and an HTTP/2 stream is reset with NO_ERROR after its answer,
//   which tells the client to stop sending (RFC 9113, 8.1).
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
import { codeToHttpStatus, errorFromJsonBytes, errorToJsonBytes } from "@connectrpc/connect/protocol-connect";
import { findTrailerError, setTrailerStatus } from "@connectrpc/connect/protocol-grpc";
import { trailerFlag, trailerParse, trailerSerialize } from "@connectrpc/connect/protocol-grpc-web";
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
    const path = (req.url ?? "").split("?", 1)[0];
    const handler = handlers.get(path);
    if (!handler) {
      res.statusCode = 404;
      res.end();
      return;
    }
    const stage = { intercepted: false };
    const contextValues = options.contextValues().set(callStageKey, stage);
    const uReq = universalRequestFromNodeRequest(req, res, undefined, contextValues);
    endUnreadUpload(req, res);
    handler(uReq)
      .then((uRes) => (stage.intercepted ? uRes : undecodableAsInvalidArgument(uRes)))
      .then((uRes) => {
        // The answer came before the whole body was read (too large, or
        // refused before it was needed): do not keep this connection.
        if (!req.complete && "shouldKeepAlive" in res) res.shouldKeepAlive = false;
        return universalResponseToNodeResponse(uRes, res);
      })
      .catch((reason: unknown) => {
        // The client went away mid-answer; there is nobody to tell.
        if (ConnectError.from(reason).code === Code.Aborted) return;
        res.destroy(reason instanceof Error ? reason : undefined);
      });
  };
}

/** After an HTTP/2 answer, a request body still arriving is refused (RST_STREAM NO_ERROR). */
function endUnreadUpload(req: Parameters<HttpHandler>[0], res: Parameters<HttpHandler>[1]): void {
  if (!("stream" in req)) return;
  const stream = req.stream;
  res.once("finish", () => {
    if (!req.complete && !stream.closed && !stream.destroyed) stream.close(http2.constants.NGHTTP2_NO_ERROR);
  });
}

const UNDECODABLE = "the request message could not be decoded";

/** The caller's error for a request that connect-es could not decode (its Internal "parse binary: ..."). */
export function undecodableRequest(original: ConnectError): ConnectError {
  // connect-es' message names what protobuf-es could not read ("premature
  // EOF", "invalid wire type"): useful to the caller, never an internal.
  const detail = original.rawMessage.replace(/^parse binary: /, "").slice(0, 200);
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
    const trailer = new Headers();
    setTrailerStatus(trailer, undecodableRequest(error));
    return { ...uRes, body: createAsyncIterable([encodeEnvelope(trailerFlag, trailerSerialize(trailer))]) };
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
