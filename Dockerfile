# One image for every role of the service: the API, the workers and the migrate step differ only in
# their command (see docker-compose.yml). The code is compiled in a build stage; the image runs
# `node dist/...` with production dependencies only (no tsx, no TypeScript).
FROM node:20-bookworm-slim AS build
WORKDIR /app
COPY package.json package-lock.json ./
RUN npm ci --no-audit --no-fund
COPY . .
RUN npm run build

FROM node:20-bookworm-slim
WORKDIR /app
ENV NODE_ENV=production
# Dependencies first, so a source change does not reinstall them.
COPY package.json package-lock.json ./
RUN npm ci --omit=dev --no-audit --no-fund && npm cache clean --force
COPY --from=build /app/dist ./dist

USER node
# API port, worker metrics port, API metrics port (METRICS_PORT in docker-compose.yml)
EXPOSE 3000 9464 9465
# The preload starts tracing when OTEL_EXPORTER_OTLP_ENDPOINT is set, and loads nothing when not.
CMD ["node", "--import", "./dist/shared/tracing/preload.js", "dist/api/main.js"]
