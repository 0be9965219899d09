# syntax=docker/dockerfile:1
# The Switchboard image: the compiled API (which also serves the admin SPA) on the current
# Node LTS, production dependencies only, running as the unprivileged `node` user.
#
#   docker build -t switchboard .
#   docker run --rm -p 3000:3000 switchboard          # embedded default (PGlite in /data)
#
# Stages: deps (every dependency, cached on the manifests) → build (admin + compiled
# server) → prod-deps (production dependencies of the api, pruned) → runtime.
ARG NODE_IMAGE=node:24-slim

FROM ${NODE_IMAGE} AS deps
WORKDIR /app
# Manifests first: this layer and the install below are reused until a manifest changes.
# Every workspace's package.json must be listed (npm ci checks them against the lockfile).
COPY package.json package-lock.json ./
COPY apps/api/package.json apps/api/
COPY apps/admin/package.json apps/admin/
COPY packages/schema/package.json packages/schema/
COPY packages/client/package.json packages/client/
# No install scripts: the Prisma client is generated explicitly in the build stage.
RUN --mount=type=cache,target=/root/.npm npm ci --ignore-scripts --no-audit --no-fund

FROM deps AS build
ENV TURBO_TELEMETRY_DISABLED=1
COPY . .
RUN npm run db:generate && npm run build

FROM ${NODE_IMAGE} AS prod-deps
WORKDIR /app
COPY package.json package-lock.json ./
COPY apps/api/package.json apps/api/
COPY apps/admin/package.json apps/admin/
COPY packages/schema/package.json packages/schema/
COPY packages/client/package.json packages/client/
# Only what apps/api/dist imports (the build fails if it imports anything else). Omitting
# optional and peer packages drops the Prisma CLI and TypeScript, which @prisma/client lists
# as optional peers; then source maps, TypeScript itself and Prisma's query compilers for
# other databases go (the generated client loads the PostgreSQL one only).
RUN --mount=type=cache,target=/root/.npm \
    npm ci --workspace=@switchboard/api --omit=dev --omit=optional --omit=peer --ignore-scripts --no-audit --no-fund \
 && rm -rf node_modules/typescript \
 && find node_modules -name "*.map" -type f -delete \
 && find node_modules/@prisma/client/runtime -type f \
      \( -name "*cockroachdb*" -o -name "*mysql*" -o -name "*sqlite*" -o -name "*sqlserver*" \) -delete

FROM ${NODE_IMAGE} AS runtime
ENV NODE_ENV=production HOST=0.0.0.0 PORT=3000 DATA_DIR=/data
# jemalloc hands freed memory back to the OS; glibc's malloc keeps what start-up freed
# resident for good (~85 MB of an idle embedded instance). The same settings as
# apps/api/scripts/run-node.sh (npm start), which a test keeps in step with these.
RUN apt-get update \
 && apt-get install -y --no-install-recommends libjemalloc2 \
 && rm -rf /var/lib/apt/lists/* \
 && ln -s "$(find /usr/lib -name libjemalloc.so.2 | head -n 1)" /usr/local/lib/libjemalloc.so.2
ENV LD_PRELOAD=/usr/local/lib/libjemalloc.so.2 \
    MALLOC_CONF=background_thread:true,narenas:2
WORKDIR /app
COPY --from=prod-deps /app/node_modules ./node_modules
COPY --from=build /app/apps/api/package.json ./apps/api/package.json
COPY --from=build /app/apps/api/dist ./apps/api/dist
COPY --from=build /app/apps/admin/dist ./apps/admin/dist
COPY --from=build /app/prisma/schema.prisma ./prisma/schema.prisma
COPY --from=build /app/prisma/migrations ./prisma/migrations
# Code stays owned by root (read-only for the server); only DATA_DIR is the server's.
RUN mkdir -p /data && chown node:node /data
USER node
EXPOSE 3000
# Ready = database and coordination answer; the slim image has no curl, so node asks.
HEALTHCHECK --interval=10s --timeout=3s --start-period=60s --retries=3 \
  CMD ["node", "-e", "fetch('http://127.0.0.1:'+(process.env.PORT||3000)+'/ready').then(r=>process.exit(r.ok?0:1),()=>process.exit(1))"]
# node itself is PID 1 (no npm in between), so SIGTERM reaches the server's shutdown handler.
# The young generation's size is run-node.sh's too (it must be on node's command line).
CMD ["node", "--max-semi-space-size=16", "--enable-source-maps", "apps/api/dist/main.js"]
