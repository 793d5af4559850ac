# syntax=docker/dockerfile:1
# iot-ingest: MQTT in, DynamoDB out. TypeScript runs through tsx (a runtime dependency), so there
# is no compile step: the build stage only installs production dependencies.

ARG NODE_VERSION=20

FROM node:${NODE_VERSION}-bookworm-slim AS deps
WORKDIR /app
COPY package.json package-lock.json ./
# Install scripts are not needed: esbuild and classic-level ship prebuilt binaries as packages.
RUN npm ci --omit=dev --ignore-scripts --no-audit --no-fund \
 && npm cache clean --force

# The console's static assets (console/dist): bundled by esbuild, a dev dependency, at build time.
FROM node:${NODE_VERSION}-bookworm-slim AS console
WORKDIR /app
COPY package.json package-lock.json ./
RUN npm ci --ignore-scripts --no-audit --no-fund
COPY console ./console
RUN npm run build:console

FROM node:${NODE_VERSION}-bookworm-slim AS runtime
ENV NODE_ENV=production \
    AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED=true \
    MQTT_PORT=1883 \
    HTTP_PORT=9464
WORKDIR /app
# Code and dependencies stay owned by root (read-only for the service); only ./data is writable,
# for the embedded DynamoDB-API server used when no DYNAMODB_ENDPOINT is set.
COPY --from=deps /app/node_modules ./node_modules
COPY . .
COPY --from=console /app/console/dist ./console/dist
RUN mkdir -p /app/data && chown node:node /app/data
USER node
EXPOSE 1883 9464
# Slim images have no curl: ask node's fetch. /healthz = the process serves; /readyz = can take traffic.
HEALTHCHECK --interval=10s --timeout=3s --start-period=20s --retries=3 \
  CMD ["node", "-e", "fetch('http://127.0.0.1:' + (process.env.HTTP_PORT || 9464) + '/healthz').then((r) => process.exit(r.ok ? 0 : 1), () => process.exit(1))"]
CMD ["node", "bin/iot-ingest.js", "serve"]
