// The only way the app talks to the server: a generated Connect-web client of
// StorefrontService, over the same origin that served the page.
import { createClient, type Interceptor } from "@connectrpc/connect";
import { createConnectTransport } from "@connectrpc/connect-web";
import { StorefrontService } from "@shop/gen/shop/storefront/v1/storefront_pb";
import { currentToken } from "./session.ts";

/** Sends the signed-in user's token; the gateway ignores it on public calls. */
const bearerToken: Interceptor = (next) => (req) => {
  const token = currentToken();
  if (token) req.header.set("authorization", `Bearer ${token}`);
  return next(req);
};

const transport = createConnectTransport({
  baseUrl: import.meta.env.VITE_API_URL || window.location.origin,
  interceptors: [bearerToken],
  // Reads marked NO_SIDE_EFFECTS go as Connect GETs, so the browser's HTTP
  // cache revalidates catalog answers with their ETag (304 when unchanged).
  useHttpGet: true,
});

export const storefront = createClient(StorefrontService, transport);
