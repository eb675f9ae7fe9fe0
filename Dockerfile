# syntax=docker/dockerfile:1
# Gatehouse: container image. One stage compiles the TypeScript sources to JavaScript
# (dist/: it starts faster and holds about 20 MB less than running the sources through
# Node's type stripping), one installs the production dependencies, and the last stage
# (the default target, so `docker build .` gives the gateway) holds only them, the
# build and the sources (plugins import `gatehouse/plugin` from them), owned by root and
# read-only for the process, which runs as the dedicated user `gatehouse` (uid/gid 1001).
# The size of the result is estimated in docs/OPERATIONS.md ("Deploying").

FROM node:24-alpine AS build
WORKDIR /app
COPY package.json package-lock.json ./
RUN npm ci --ignore-scripts --no-audit --no-fund
COPY tsconfig.json tsconfig.build.json ./
COPY scripts/build.ts ./scripts/
COPY src ./src
RUN node scripts/build.ts

FROM node:24-alpine AS deps
WORKDIR /app
COPY package.json package-lock.json ./
# --omit=dev leaves out the test/bench tooling and the pinned `node` package (the
# image's own Node 24 runs the gateway); no production dependency needs an install
# script, so none runs.
RUN npm ci --omit=dev --ignore-scripts --no-audit --no-fund && npm cache clean --force

# What the gateway and the demo services share: Node, CA certificates, the user.
FROM node:24-alpine AS base
# ca-certificates: the system trust store for upstreams, the auth service and the
# OTLP collector over https (Node's own bundle stays the default; NODE_USE_SYSTEM_CA=1
# switches to this one, e.g. for a private CA installed in a derived image).
# jemalloc: the gateway's allocator (below).
RUN apk add --no-cache ca-certificates jemalloc \
 && addgroup -S -g 1001 gatehouse \
 && adduser -S -D -H -u 1001 -G gatehouse -s /sbin/nologin gatehouse
ENV NODE_ENV=production
WORKDIR /app
COPY --from=deps --chown=root:root /app/node_modules ./node_modules
COPY --chown=root:root package.json ./
COPY --chown=root:root bin ./bin
COPY --chown=root:root src ./src
COPY --from=build --chown=root:root /app/dist ./dist
USER 1001:1001

# The demo stack (auth, users, orders services) for compose.yaml: the gateway's files
# plus demo/, which the production image does not carry.
FROM base AS demo
COPY --chown=root:root demo ./demo

# The gateway. Last, so it is the default target. The admin listener stays on
# loopback unless ADMIN_HOST says otherwise, and then it wants ADMIN_TOKEN.
FROM base AS runtime
# Memory settings chosen by measurement (docs/PERFORMANCE.md, "Targets and final
# figures"): jemalloc instead of the C library's malloc (it holds about 20 MB less under
# load), its per-thread caches kept to allocations up to 4 KB, and a young generation
# capped at 4 MB per semi-space (the ENTRYPOINT's flag).
ENV GATEHOUSE_CONFIG=/etc/gatehouse/gateway.yaml LD_PRELOAD=/usr/lib/libjemalloc.so.2 MALLOC_CONF=tcache_max:4096
EXPOSE 8080 9090
HEALTHCHECK --interval=10s --timeout=3s --start-period=5s \
  CMD ["node", "-e", "fetch('http://127.0.0.1:8080/health').then(r=>process.exit(r.ok?0:1),()=>process.exit(1))"]
# SIGTERM drains and exits 0 (server.shutdown_timeout); SIGHUP reloads.
STOPSIGNAL SIGTERM
ENTRYPOINT ["node", "--max-semi-space-size=4", "dist/cli.js"]
CMD ["start"]
