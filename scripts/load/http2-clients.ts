// Generated clients for load and benchmark runs: Connect binary over one
// HTTP/2 session per address, all closed together at the end of the run.
import type { DescService } from "@bufbuild/protobuf";
import { createClient, type Client } from "@connectrpc/connect";
import { createConnectTransport, Http2SessionManager } from "@connectrpc/connect-node";

export class Http2Clients {
  readonly #sessions: Http2SessionManager[] = [];

  client<S extends DescService>(service: S, baseUrl: string): Client<S> {
    const sessionManager = new Http2SessionManager(baseUrl);
    this.#sessions.push(sessionManager);
    return createClient(
      service,
      createConnectTransport({ baseUrl, httpVersion: "2", useBinaryFormat: true, sessionManager }),
    );
  }

  close(): void {
    for (const session of this.#sessions) session.abort();
  }
}
