# syntax=docker/dockerfile:1
# Gatehouse: production image. Node 24 runs the TypeScript sources directly (type
# stripping), so there is no build step: one stage installs the production
# dependencies, the final stage holds only them and the sources, and runs as the
# unprivileged `node` user.

FROM node:24-slim AS deps
WORKDIR /app
COPY package.json package-lock.json ./
# --omit=dev leaves out the test/bench tooling and the pinned `node` package: the
# image's own Node 24 runs the gateway.
RUN npm ci --omit=dev --ignore-scripts --no-audit --no-fund && npm cache clean --force

FROM node:24-slim AS runtime
ENV NODE_ENV=production \
    GATEHOUSE_CONFIG=/etc/gatehouse/gateway.yaml \
    ADMIN_HOST=0.0.0.0
WORKDIR /app
COPY --from=deps --chown=root:root /app/node_modules ./node_modules
COPY --chown=root:root package.json ./
COPY --chown=root:root bin ./bin
COPY --chown=root:root src ./src
# Code and dependencies stay owned by root and read-only for the process.
USER node
EXPOSE 8080 9090
HEALTHCHECK --interval=10s --timeout=3s --start-period=5s \
  CMD ["node", "-e", "fetch('http://127.0.0.1:8080/health').then(r=>process.exit(r.ok?0:1),()=>process.exit(1))"]
# SIGTERM drains and exits 0 (server.shutdown_timeout); SIGHUP reloads.
STOPSIGNAL SIGTERM
ENTRYPOINT ["node", "src/cli.ts"]
CMD ["start"]

# The demo stack (auth, users, orders services) for compose.yaml: the runtime image
# plus demo/, which the production image does not carry.
FROM runtime AS demo
COPY --chown=root:root demo ./demo
