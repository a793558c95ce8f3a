// The gateway's own settings, on top of the runtime's (PORT, HOST, <DEP>_ADDR...).
import { ConfigError } from "@shop/runtime/config";

export interface GatewayConfig {
  /** Other origins whose pages may call the API (the web app itself is same-origin). From CORS_ORIGINS. */
  corsOrigins: string[];
}

/** Throws a ConfigError naming the variable, like the runtime's own settings. */
export function loadGatewayConfig(env: Record<string, string | undefined>): GatewayConfig {
  const raw = env.CORS_ORIGINS ?? "";
  const corsOrigins = parseOrigins(raw);
  if (!corsOrigins) {
    throw new ConfigError([
      `CORS_ORIGINS must be a comma-separated list of origins such as http://localhost:5173,https://shop.example.com (got ${JSON.stringify(raw)})`,
    ]);
  }
  return { corsOrigins };
}

/** Scheme, host and optional port, nothing else (no path, no trailing slash); undefined if any entry is not. */
function parseOrigins(raw: string): string[] | undefined {
  const origins = raw
    .split(",")
    .map((s) => s.trim())
    .filter((s) => s !== "");
  const valid = origins.every(
    (o) => URL.canParse(o) && /^https?:$/.test(new URL(o).protocol) && new URL(o).origin === o,
  );
  return valid ? origins : undefined;
}
