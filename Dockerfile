# syntax=docker/dockerfile:1
#
# One image per deployable, chosen with a build argument:
#
#   docker build --build-arg SERVICE=catalog -t shop-catalog .
#
# The image runs the service's bundle (scripts/build-services.ts): one file,
# services/<name>/dist/main.js, with every dependency inside it, on
# node:24-slim. Beside it: the service's package.json (ES module scope), its
# migrations (services/<name>/drizzle, and the runtime's, copied into dist/)
# and, for the gateway, the built web app. No node_modules, no TypeScript.
#
# Stages: manifests (package.json files only, so the dependency layer changes
# only when dependencies do) -> build (full install, which also derives the
# install-time code the runtime needs, e.g. services/runtime/src/grpc-gen;
# then the bundle and the service's own build) -> app (what the service runs,
# non-root) and runtime (the default target); dev, for Tilt, takes the same
# files from the developer's machine (see below).
ARG NODE_IMAGE=node:24-slim

FROM ${NODE_IMAGE} AS base
WORKDIR /app
ENV NPM_CONFIG_UPDATE_NOTIFIER=false NPM_CONFIG_FUND=false NPM_CONFIG_AUDIT=false

FROM base AS manifests
COPY . /src
RUN mkdir /out && cd /src \
 && cp package.json package-lock.json /out/ \
 && find gen services -maxdepth 2 -name package.json -exec cp --parents {} /out/ \;

FROM base AS build
COPY --from=manifests /out/ ./
# What the install scripts (postinstall) read: the contracts and buf's configuration.
COPY buf.yaml buf.gen.yaml buf.gen.grpc.yaml ./
COPY proto ./proto
COPY scripts ./scripts
RUN --mount=type=cache,target=/root/.npm npm ci
# The gRPC health/reflection code the runtime serves is derived at install time.
RUN test -d services/runtime/src/grpc-gen || node scripts/derive-grpc-protos.ts
ARG SERVICE
RUN test -n "$SERVICE" || { echo "build with --build-arg SERVICE=<folder under services/>" >&2; exit 1; }
COPY gen ./gen
COPY services/runtime ./services/runtime
COPY services/${SERVICE} ./services/${SERVICE}
RUN test -f "services/$SERVICE/src/main.ts" || { echo "services/$SERVICE/src/main.ts does not exist" >&2; exit 1; } \
 && npm run build:services -- "$SERVICE" \
 && npm run build --if-present --workspace "services/$SERVICE"
# What the service runs, gathered for one COPY (drizzle/ and web/dist exist only for some services).
RUN mkdir -p "/out/services/$SERVICE" && cd "services/$SERVICE" \
 && cp -r package.json dist "/out/services/$SERVICE/" \
 && rm "/out/services/$SERVICE/dist/main.inputs.json" \
 && if [ -d drizzle ]; then cp -r drizzle "/out/services/$SERVICE/"; fi \
 && if [ -d web/dist ]; then mkdir -p "/out/services/$SERVICE/web" && cp -r web/dist "/out/services/$SERVICE/web/"; fi

FROM ${NODE_IMAGE} AS app
ARG SERVICE
# MALLOC_ARENA_MAX: SERVICE_ENVIRONMENT in services/runtime/src/manifest.ts.
ENV NODE_ENV=production SERVICE=${SERVICE} HOST=0.0.0.0 MALLOC_ARENA_MAX=2
WORKDIR /app
COPY --from=build /out/ ./
# The `node` user of the node images, by number so Kubernetes can verify runAsNonRoot.
USER 1000:1000
# The Deployments set this command explicitly (mesh/base); `exec` makes node PID 1 so it gets SIGTERM.
CMD ["sh", "-c", "exec node --max-semi-space-size=2 --max-old-space-size-percentage=50 services/$SERVICE/dist/main.js"]

# Tilt's target (see the Tiltfile): what the app stage holds, taken from the
# developer's machine instead of being built here (the Tiltfile's `bundles` and
# `web` resources build it first), owned by the app user so that live update
# can sync newer files over it. Live update replaces files (tar unlinks and
# recreates them), which `node --watch` on Linux loses track of after the
# first time; so the dev Deployments run `node --watch-path=.live-update` and
# every live update ends by rewriting that file in place, one restart per sync.
FROM ${NODE_IMAGE} AS dev
ARG SERVICE
ENV NODE_ENV=production SERVICE=${SERVICE} HOST=0.0.0.0 MALLOC_ARENA_MAX=2
WORKDIR /app
RUN test -n "$SERVICE" || { echo "build with --build-arg SERVICE=<folder under services/>" >&2; exit 1; } \
 && install -d -o 1000 -g 1000 /app/services "/app/services/$SERVICE" \
 && install -o 1000 -g 1000 -m 0644 /dev/null /app/.live-update
COPY --chown=1000:1000 services/${SERVICE} ./services/${SERVICE}
RUN test -f "services/$SERVICE/dist/main.js" || { echo "services/$SERVICE/dist/main.js is missing: run npm run build:services first" >&2; exit 1; }
USER 1000:1000
CMD ["sh", "-c", "exec node --watch-path=.live-update --max-semi-space-size=2 --max-old-space-size-percentage=50 services/$SERVICE/dist/main.js"]

FROM app AS runtime
