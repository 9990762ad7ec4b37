# Keel's container image. Build: `docker build -t keel .`; run: `docker run -p 3000:3000 keel`
# (add -e DATABASE_URL=postgres://... -e REDIS_URL=redis://... -e SESSION_SECRET=... for
# several replicas; docs/operations.md). Checked by test/deploy/dockerfile.spec.ts.
# Node 24, the active LTS line (Node 20 reached end of life in April 2026). CI runs the whole
# suite on Node 24 as well as on the machine's Node (.ci/run).
ARG NODE_IMAGE=node:24-bookworm-slim

# --- build: every dependency (TypeScript, the Nest CLI), then dist/ ---
FROM ${NODE_IMAGE} AS build
# better-sqlite3 compiles its native addon from source at install: it needs these.
RUN apt-get update \
  && apt-get install -y --no-install-recommends python3 make g++ \
  && rm -rf /var/lib/apt/lists/*
# npm 11, as in development: it honours package.json's `allowScripts` (only better-sqlite3's
# install script runs; the others are denied there).
RUN npm install -g npm@11 --no-audit --no-fund
WORKDIR /app
COPY package.json package-lock.json ./
RUN npm ci --no-audit --no-fund
COPY tsconfig.json tsconfig.build.json nest-cli.json ./
COPY src ./src
COPY web ./web
COPY deploy/bundle.js ./deploy/
RUN npm run build

# --- production dependencies only, compiled for the same base image ---
FROM ${NODE_IMAGE} AS production-dependencies
RUN apt-get update \
  && apt-get install -y --no-install-recommends python3 make g++ \
  && rm -rf /var/lib/apt/lists/*
RUN npm install -g npm@11 --no-audit --no-fund
WORKDIR /app
COPY package.json package-lock.json ./
RUN npm ci --omit=dev --no-audit --no-fund && npm cache clean --force

# --- runtime: node, the production node_modules, dist/; no compilers, no npm needed ---
FROM ${NODE_IMAGE} AS runtime
ENV NODE_ENV=production \
    HOST=0.0.0.0 \
    PORT=3000 \
    DATA_DIR=/var/lib/keel
# A fixed non-root uid/gid, the one deploy/kubernetes/deployment.yaml runs as. DATA_DIR is
# 0700, as Keel makes one itself: Keel warns at start about an existing one others can reach.
RUN groupadd --system --gid 10001 keel \
  && useradd --system --uid 10001 --gid keel --home-dir /nonexistent --shell /usr/sbin/nologin keel \
  && mkdir -p -m 700 /var/lib/keel \
  && chown keel:keel /var/lib/keel
WORKDIR /app
# package.json is needed at run time: its "type": "module" makes dist/*.js ES modules.
COPY --chown=root:root package.json ./
COPY --from=production-dependencies --chown=root:root /app/node_modules ./node_modules
COPY --from=build --chown=root:root /app/dist ./dist
USER 10001:10001
VOLUME ["/var/lib/keel"]
EXPOSE 3000
# Off: Kubernetes probes /health/startup, /health/live and /health/ready itself.
HEALTHCHECK NONE
# Node is PID 1 and handles SIGTERM/SIGINT itself (graceful drain in serve()); no shell, no
# npm in between to swallow the signal. The bundle (deploy/bundle.js), as `npm start` runs it:
# one file to load instead of ~2,500, half the start-up. node_modules stays for what it leaves
# out (better-sqlite3's native addon, Swagger UI's files: see deploy/bundle.js).
CMD ["node", "dist/bundle/main.js"]
