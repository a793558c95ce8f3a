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
# non-root) -> dev (writable, for Tilt's live update) and runtime (the
# default target).
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
CMD ["sh", "-c", "exec node --max-semi-space-size=2 --max-old-space-size=192 services/$SERVICE/dist/main.js"]

# Tilt's target: the same image with services/ owned by the app user, so live
# update can sync a rebuilt bundle into the running container.
FROM app AS dev
USER root
RUN chown -R 1000:1000 /app/services
USER 1000:1000

FROM app AS runtime
