# syntax=docker/dockerfile:1
# The function's image: built once per commit for the cluster's architecture, pushed to ECR and promoted from dev to
# prod by digest. The runtime stage holds Node and the bundled function (dist/) only: no npm, no shell, no sources.

# The Node major of production; tests run on the same major (package.json devDependency "node").
ARG NODE_MAJOR=24

FROM node:${NODE_MAJOR}-bookworm-slim AS build
WORKDIR /src
# Dependencies first, so a code change reuses the cached install layer. No install scripts: the build needs none.
COPY package.json package-lock.json ./
RUN npm ci --ignore-scripts --no-audit --no-fund
COPY tsconfig.json tsconfig.build.json ./
COPY scripts/build.mjs ./scripts/build.mjs
COPY scripts/lib/bundle.mjs ./scripts/lib/bundle.mjs
COPY scripts/lib/snapshot.mjs ./scripts/lib/snapshot.mjs
COPY function ./function
# The ports and probe paths the function shares with the chart (chart/files/contract.json, imported by config.ts).
COPY chart/files ./chart/files
# The function to build (README, "Write your function"): docker build --build-arg FUNCTION=function/my-fn
ARG FUNCTION=function/example
# The compile cache is made here, for the user the image runs as (see docs/performance.md); the start-up snapshot's
# blob is not: the next stage makes it.
RUN node scripts/build.mjs --compile-cache-uid=65532 --no-snapshot-blob

# The start-up snapshot (docs/performance.md), made by the runtime image's own Node: Node loads a blob only in the
# version that made it, and the build stage's image may carry another patch release. No shell here: exec form.
FROM gcr.io/distroless/nodejs${NODE_MAJOR}-debian12:nonroot AS snapshot
WORKDIR /app
COPY --from=build --chown=65532:65532 /src/dist ./dist
RUN ["/nodejs/bin/node", "--snapshot-blob", "dist/snapshot.blob", "--build-snapshot", "dist/snapshot.cjs"]

FROM gcr.io/distroless/nodejs${NODE_MAJOR}-debian12:nonroot
WORKDIR /app
COPY --from=snapshot /app/dist ./dist
ENV NODE_ENV=production
# Numeric, so Kubernetes can verify runAsNonRoot. Nothing is written outside /tmp: the root filesystem can be read-only.
USER 65532:65532
EXPOSE 8080 9464
# Node itself is PID 1 and handles SIGTERM from its first line (exit 0 during start-up, graceful drain once
# listening); no npm, no shell in between. It starts from the snapshot (the runtime's modules already evaluated).
ENTRYPOINT []
CMD ["/nodejs/bin/node", "--snapshot-blob", "dist/snapshot.blob", "dist/server.js"]
