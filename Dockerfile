# syntax=docker/dockerfile:1
# iot-ingest: MQTT in, DynamoDB out. The build stage compiles the TypeScript to dist/ (tsc); the
# runtime runs it with plain node and production dependencies only (no tsx, no compiler).

ARG NODE_VERSION=20

FROM node:${NODE_VERSION}-bookworm-slim AS build
WORKDIR /app
COPY package.json package-lock.json ./
# Install scripts are not needed: esbuild and classic-level ship prebuilt binaries as packages.
RUN npm ci --ignore-scripts --no-audit --no-fund
COPY tsconfig.json tsconfig.build.json ./
COPY scripts/copy-assets.mjs ./scripts/
COPY src ./src
COPY simulator ./simulator
COPY console ./console
# Also bundles the console's static assets (esbuild, uPlot) into dist/console/dist.
RUN npm run build

FROM node:${NODE_VERSION}-bookworm-slim AS deps
WORKDIR /app
COPY package.json package-lock.json ./
RUN npm ci --omit=dev --ignore-scripts --no-audit --no-fund \
 && npm cache clean --force

FROM node:${NODE_VERSION}-bookworm-slim AS runtime
ENV NODE_ENV=production \
    AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED=true \
    MQTT_PORT=1883 \
    HTTP_PORT=9464
WORKDIR /app
# Code and dependencies stay owned by root (read-only for the service); only ./data is writable,
# for the embedded DynamoDB-API server used when no DYNAMODB_ENDPOINT is set.
COPY --from=deps /app/node_modules ./node_modules
COPY --from=build /app/dist ./dist
COPY package.json ./
COPY bin/iot-ingest.js ./bin/
RUN mkdir -p /app/data && chown node:node /app/data
USER node
EXPOSE 1883 9464
# Slim images have no curl: ask node's fetch. /healthz = the process serves; /readyz = can take traffic.
HEALTHCHECK --interval=10s --timeout=3s --start-period=20s --retries=3 \
  CMD ["node", "-e", "fetch('http://127.0.0.1:' + (process.env.HTTP_PORT || 9464) + '/healthz').then((r) => process.exit(r.ok ? 0 : 1), () => process.exit(1))"]
CMD ["node", "bin/iot-ingest.js", "serve"]
