// HTTP/1.1 and HTTP/2 cleartext (h2c) on one port, for the gateway: browsers
// cannot speak h2c and gRPC clients need HTTP/2, yet both must reach it on the
// same origin. Without TLS there is no ALPN to choose the protocol, so each new
// connection is told apart by its first bytes: an HTTP/2 client starts with the
// fixed client preface "PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n", an HTTP/1.1 client
// with a request line such as "POST /shop.storefront.v1.StorefrontService/...".
// The bytes read are pushed back and the socket is handed to the right server.
import type * as http from "node:http";
import type * as http2 from "node:http2";
import * as net from "node:net";
import type { Duplex } from "node:stream";

export const HTTP2_CLIENT_PREFACE = Buffer.from("PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n", "latin1");

/** A client that connects and says nothing is dropped after this long. */
const SNIFF_TIMEOUT_MS = 10_000;

/** Which protocol a connection's first bytes announce, or undefined while they could still be either. */
export function sniffProtocol(firstBytes: Buffer): "h2" | "http1" | undefined {
  const n = Math.min(firstBytes.length, HTTP2_CLIENT_PREFACE.length);
  if (!firstBytes.subarray(0, n).equals(HTTP2_CLIENT_PREFACE.subarray(0, n))) return "http1";
  return firstBytes.length >= HTTP2_CLIENT_PREFACE.length ? "h2" : undefined;
}

/**
 * One listening socket feeding an http2 server (h2c) and an http server
 * (HTTP/1.1). Neither of them listens itself. HTTP/1.1 connections are
 * tracked here because an http.Server that never listened does not track
 * them (closeIdleConnections() would do nothing).
 */
export class DualProtocolListener {
  readonly server: net.Server;
  private readonly http1Sockets = new Map<Duplex, number>();
  private draining = false;

  constructor(
    private readonly h2: http2.Http2Server,
    private readonly h1: http.Server,
  ) {
    this.server = net.createServer((socket) => this.sniff(socket));
    h1.on("request", (req: http.IncomingMessage, res: http.ServerResponse) => this.track(req.socket, res));
  }

  listen(port: number, host: string): Promise<void> {
    return new Promise((resolve, reject) => {
      this.server.once("error", reject);
      this.server.listen(port, host, () => {
        this.server.off("error", reject);
        resolve();
      });
    });
  }

  /**
   * Stops accepting, asks HTTP/1.1 clients to close once their current
   * response is done and closes idle HTTP/1.1 connections. Resolves when
   * every connection (both protocols) has closed; the caller GOAWAYs the
   * HTTP/2 sessions.
   */
  close(): Promise<void> {
    this.draining = true;
    const closed = new Promise<void>((resolve) => this.server.close(() => resolve()));
    for (const [socket, inFlight] of this.http1Sockets) if (inFlight === 0) socket.end();
    return closed;
  }

  /** Cuts off every HTTP/1.1 connection (the drain timeout is up). */
  destroyHttp1(): void {
    for (const socket of this.http1Sockets.keys()) socket.destroy();
  }

  private sniff(socket: net.Socket): void {
    let received = Buffer.alloc(0);
    const drop = () => socket.destroy();
    const onData = (chunk: Buffer) => {
      received = Buffer.concat([received, chunk]);
      const protocol = sniffProtocol(received);
      if (!protocol) return;
      socket.off("data", onData);
      socket.off("error", drop);
      socket.setTimeout(0);
      socket.off("timeout", drop);
      socket.pause();
      socket.unshift(received);
      if (protocol === "h2") {
        // The http2 session reads what was pushed back before taking over the socket.
        this.h2.emit("connection", socket);
        return;
      }
      this.http1Sockets.set(socket, 0);
      socket.once("close", () => this.http1Sockets.delete(socket));
      this.h1.emit("connection", socket);
      // The http server attaches its own data listener; the bytes pushed back flow once resumed.
      socket.resume();
    };
    socket.on("data", onData);
    socket.on("error", drop);
    socket.setTimeout(SNIFF_TIMEOUT_MS, drop);
  }

  /** Counts in-flight requests per HTTP/1.1 connection so a drain can close the idle ones. */
  private track(socket: Duplex, res: http.ServerResponse): void {
    const requests = this.http1Sockets.get(socket);
    if (requests === undefined) return;
    this.http1Sockets.set(socket, requests + 1);
    if (this.draining && !res.headersSent) res.setHeader("connection", "close");
    res.once("close", () => {
      const inFlight = (this.http1Sockets.get(socket) ?? 1) - 1;
      if (!this.http1Sockets.has(socket)) return;
      this.http1Sockets.set(socket, inFlight);
      if (this.draining && inFlight === 0) socket.end();
    });
  }
}
