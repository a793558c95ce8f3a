// The storefront web app: Preact with the automatic JSX runtime (compiled by
// Vite's own oxc transform, no framework plugin), built into dist/ which the
// gateway serves at / (see ../src/static-files.ts and ../src/web-build.ts).
//
// `npx vite web` from services/gateway starts a dev server on :5173 that
// proxies the API to a gateway on :8080 (GATEWAY_URL to change it), so the
// page and its API stay same-origin in development too.
import { defineConfig } from "vite";

const gateway = process.env.GATEWAY_URL ?? "http://127.0.0.1:8080";

export default defineConfig({
  oxc: {
    jsx: { runtime: "automatic", importSource: "preact" },
  },
  build: {
    outDir: "dist",
    emptyOutDir: true,
    target: "es2022",
    // No source maps in what the gateway serves: they would publish the
    // sources. The dev server (`npx vite web`) has its own, inline.
    sourcemap: false,
    // Vite's default is a single chunk for an app this size; assets/ names carry content hashes.
    assetsDir: "assets",
  },
  server: {
    proxy: {
      "^/(shop|grpc)\\.": { target: gateway },
      "/.well-known": { target: gateway },
    },
  },
});
