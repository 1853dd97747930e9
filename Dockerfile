# workers-spawner: the service itself (HTTP API, Redis adapter, plugin watcher).
#
#   docker build -t workers-spawner/spawner .
#   docker run -d -p 127.0.0.1:8080:8080 \
#     -v /var/run/docker.sock:/var/run/docker.sock \
#     --group-add "$(stat -c %g /var/run/docker.sock)" workers-spawner/spawner
#
# or `docker compose up` (see docker-compose.yml). Works with the classic builder
# (DOCKER_BUILDKIT=0) and with BuildKit.
#
# Build arguments:
#   BASE_IMAGE      any Debian/Ubuntu/Alpine image with Node.js >= NODE_MIN_MAJOR and npm
#                   (default node:20-bookworm-slim; without a registry,
#                   workers-spawner/universal-worker:latest has Node 20 too)
#   NODE_MIN_MAJOR  the build fails unless `node --version` is at least this (20)
#   APP_UID         uid of the unprivileged `spawner` user the service runs as (10001)
#
# Extra CA (a TLS-intercepting proxy between the build and the npm registry): put the PEM
# bundle in images/universal-worker/extra-ca.pem (the same file the worker image uses;
# empty = none). `npm ci` trusts it; it is not left in the final image's environment.
#
# The service reaches the Docker Engine through the mounted socket (dockerode, no docker
# CLI in the image). The socket is root-equivalent: whoever can use it controls the host.
# The image runs as the non-root user `spawner`; give it the socket's group at run time
# (`--group-add`, compose `group_add`) instead of running as root.
ARG BASE_IMAGE=node:20-bookworm-slim
FROM ${BASE_IMAGE}

ARG BASE_IMAGE
ARG NODE_MIN_MAJOR=20
ARG APP_UID=10001

# Some bases (the universal worker image) end with a non-root USER.
USER root

# Fail loudly on a base without Node >= NODE_MIN_MAJOR and npm, then add the service user.
RUN set -eu; \
    if ! command -v node >/dev/null 2>&1; then \
      echo "error: base image ${BASE_IMAGE} has no node; use a base with Node.js >= ${NODE_MIN_MAJOR} (e.g. node:20-bookworm-slim)" >&2; \
      exit 1; \
    fi; \
    major="$(node -p 'process.versions.node.split(".")[0]')"; \
    minor="$(node -p 'process.versions.node.split(".")[1]')"; \
    if [ "$major" -lt "$NODE_MIN_MAJOR" ] || { [ "$major" -eq 20 ] && [ "$minor" -lt 6 ]; }; then \
      echo "error: base image ${BASE_IMAGE} has Node.js $(node --version); workers-spawner needs >= ${NODE_MIN_MAJOR} (and >= 20.6 for node --import)" >&2; \
      exit 1; \
    fi; \
    command -v npm >/dev/null 2>&1 || { echo "error: base image ${BASE_IMAGE} has node but no npm" >&2; exit 1; }; \
    if command -v useradd >/dev/null 2>&1; then \
      useradd --system --uid "$APP_UID" --user-group --home-dir /app --no-create-home --shell /usr/sbin/nologin spawner; \
    else \
      addgroup -S -g "$APP_UID" spawner && adduser -S -D -H -u "$APP_UID" -G spawner -h /app -s /sbin/nologin spawner; \
    fi; \
    echo "node $(node --version), npm $(npm --version), user spawner ($(id spawner))"

WORKDIR /app

# Dependencies first (cached while package*.json are unchanged). tsx runs the TypeScript
# sources at run time, so it is a runtime dependency: `npm ci --omit=dev` keeps it and leaves
# out vitest, typescript and the type packages.
COPY package.json package-lock.json ./
COPY images/universal-worker/extra-ca.pem /tmp/extra-ca.pem
RUN set -eu; \
    if grep -q -- '-----BEGIN CERTIFICATE-----' /tmp/extra-ca.pem; then \
      echo "npm ci trusts the extra CA from images/universal-worker/extra-ca.pem"; \
      export NODE_EXTRA_CA_CERTS=/tmp/extra-ca.pem; \
    fi; \
    npm ci --omit=dev --no-audit --no-fund; \
    npm cache clean --force 2>/dev/null || true; \
    rm -rf /tmp/extra-ca.pem /root/.npm /tmp/node-compile-cache

COPY src ./src
COPY plugins ./plugins
# The worker image's sources: what operators build with images/build-worker.sh.
COPY images ./images

ENV NODE_ENV=production \
    HOST=0.0.0.0 \
    PORT=8080

USER spawner
EXPOSE 8080

# No inherited entrypoint (node images have docker-entrypoint.sh, the worker image its own).
# Exec form, no npm wrapper: node gets SIGTERM itself and shuts down cleanly (Redis requests
# in flight are answered first).
ENTRYPOINT []
CMD ["node", "--import", "tsx", "src/node.ts"]
