# syntax=docker/dockerfile:1
#
# One image per deployable, chosen with a build argument:
#
#   docker build --build-arg SERVICE=catalog -t shop-catalog .
#
# Services run their TypeScript directly on Node 24 (no build step), so the
# runtime image is node:24-slim plus production dependencies and the sources of
# gen/, services/runtime and the one service. The `node` devDependency that
# gives `npm run` Node 24 on developer machines is not installed here
# (--omit=dev): the image's own Node 24 runs everything.
#
# Stages: manifests (package.json files only, so dependency layers change only
# when dependencies do) -> prod-deps (npm ci --omit=dev, the same layer for every
# service) and build (full install, which also derives the install-time code the
# runtime needs, e.g. services/runtime/src/grpc-gen) -> app (non-root) -> dev
# (sources writable, for Tilt's live update) and runtime (the default target).
ARG NODE_IMAGE=node:24-slim

FROM ${NODE_IMAGE} AS base
WORKDIR /app
ENV NPM_CONFIG_UPDATE_NOTIFIER=false NPM_CONFIG_FUND=false NPM_CONFIG_AUDIT=false

FROM base AS manifests
COPY . /src
RUN mkdir /out && cd /src \
 && cp package.json package-lock.json /out/ \
 && find gen services -maxdepth 2 -name package.json -exec cp --parents {} /out/ \;

FROM base AS prod-deps
COPY --from=manifests /out/ ./
RUN --mount=type=cache,target=/root/.npm npm ci --omit=dev --ignore-scripts

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
 && npm run build --if-present --workspace "services/$SERVICE"

FROM ${NODE_IMAGE} AS app
ARG SERVICE
ENV NODE_ENV=production SERVICE=${SERVICE} HOST=0.0.0.0
WORKDIR /app
# Production node_modules (root and any nested in workspaces), then the sources.
COPY --from=prod-deps /app ./
COPY --from=build /app/gen ./gen
COPY --from=build /app/services/runtime ./services/runtime
COPY --from=build /app/services/${SERVICE} ./services/${SERVICE}
# The `node` user of the node images, by number so Kubernetes can verify runAsNonRoot.
USER 1000:1000
# The Deployments set this command explicitly (mesh/base); `exec` makes node PID 1 so it gets SIGTERM.
CMD ["sh", "-c", "exec node --experimental-transform-types --disable-warning=ExperimentalWarning --max-semi-space-size=2 --max-old-space-size=192 services/$SERVICE/src/main.ts"]

# Tilt's target: the same image with gen/ and services/ owned by the app user, so
# live update can sync changed TypeScript into the running container.
FROM app AS dev
USER root
RUN chown -R 1000:1000 /app/gen /app/services
USER 1000:1000

FROM app AS runtime
