# syntax=docker/dockerfile:1
# The three service images, one target each: totp-core, telegram-bot, zulip-bot. `npm run images` builds them
# (docs/images.md); by hand: docker build --target totp-core -t totp-custody/totp-core .
#
# The defaults are the upstream Node 20 images, pinned by tag and digest (both multi-arch index digests, as pinned
# in public Dockerfiles resolved from Docker Hub and gcr.io in August 2026; refresh with
# `docker buildx imagetools inspect <image>:<tag>`). The runtime base has no shell and no package manager, so the
# final stages only copy. `npm run images` passes the local bases that `npm run setup-tools` builds from Debian
# packages instead, with the same layout (node at /nodejs/bin/node, no shell).
ARG BUILD_BASE=docker.io/library/node:20.20.2-bookworm-slim@sha256:2cf067cfed83d5ea958367df9f966191a942351a2df77d6f0193e162b5febfc0
ARG RUNTIME_BASE=gcr.io/distroless/nodejs20-debian12:nonroot@sha256:2cd820156cf039c8b54ae2d2a97e424b6729070714de8707a6b79f20d56f6a9a

FROM ${BUILD_BASE} AS deps
# Only for a TLS-intercepting proxy: the path of its CA inside the build, mounted there by the caller
# (podman build -v /etc/ssl/certs/ca-certificates.crt:/run/host-ca.crt:ro --build-arg NODE_EXTRA_CA_CERTS=...).
# It is declared in this stage alone (the only one that downloads), so neither the value nor the file reaches a
# final image.
ARG NODE_EXTRA_CA_CERTS
WORKDIR /app
# The manifests only: the dependency layers below are rebuilt when one of them changes, not on every source edit.
COPY package.json package-lock.json tsconfig.base.json ./
COPY packages/contract/package.json packages/contract/
COPY packages/pki/package.json packages/pki/
COPY packages/testkit/package.json packages/testkit/
COPY packages/client/package.json packages/client/
COPY packages/chat/package.json packages/chat/
COPY services/totp-core/package.json services/totp-core/
COPY packages/cli/package.json packages/cli/
COPY services/telegram-bot/package.json services/telegram-bot/
COPY services/zulip-bot/package.json services/zulip-bot/
# Every workspace with its dev dependencies (the compiler); no install script runs.
RUN npm ci --ignore-scripts --no-audit --no-fund --no-update-notifier

# A service's production dependencies alone, from the npm cache of the install above (offline: nothing new is
# fetched). npm links only the workspaces the service depends on.
FROM deps AS totp-core-deps
RUN npm ci -w services/totp-core --omit=dev --ignore-scripts --offline --no-audit --no-fund --no-update-notifier
FROM deps AS telegram-bot-deps
RUN npm ci -w services/telegram-bot --omit=dev --ignore-scripts --offline --no-audit --no-fund --no-update-notifier
FROM deps AS zulip-bot-deps
RUN npm ci -w services/zulip-bot --omit=dev --ignore-scripts --offline --no-audit --no-fund --no-update-notifier

FROM deps AS build
COPY proto proto
COPY packages packages
COPY services services
COPY deploy/images/runtime-files.sh deploy/images/
# The services and the workspaces they import, in dependency order (a service's tsconfig need not reference them).
RUN node_modules/.bin/tsc -b packages/contract packages/client packages/chat \
    services/totp-core services/telegram-bot services/zulip-bot

# What each image holds: the production node_modules, and the compiled workspaces it links to.
FROM build AS totp-core-files
COPY --from=totp-core-deps /app/node_modules /out/node_modules
RUN sh deploy/images/runtime-files.sh /out
FROM build AS telegram-bot-files
COPY --from=telegram-bot-deps /app/node_modules /out/node_modules
RUN sh deploy/images/runtime-files.sh /out
FROM build AS zulip-bot-files
COPY --from=zulip-bot-deps /app/node_modules /out/node_modules
RUN sh deploy/images/runtime-files.sh /out

# The final images: the runtime base, the files above owned by root (read-only to the app), the non-root user,
# node as the entrypoint and the service's main as its argument. No ENV: configuration comes from the deployment.
FROM ${RUNTIME_BASE} AS totp-core
WORKDIR /app
COPY --from=totp-core-files /out/ /app/
USER 10001:10001
# 8443: gRPC over mTLS (TOTP_LISTEN); 8081: plaintext grpc.health.v1 for probes (TOTP_HEALTH_LISTEN, set it).
EXPOSE 8443 8081
ENTRYPOINT ["/nodejs/bin/node"]
CMD ["services/totp-core/dist/main.js"]

FROM ${RUNTIME_BASE} AS telegram-bot
WORKDIR /app
COPY --from=telegram-bot-files /out/ /app/
USER 10001:10001
ENTRYPOINT ["/nodejs/bin/node"]
CMD ["services/telegram-bot/dist/main.js"]

FROM ${RUNTIME_BASE} AS zulip-bot
WORKDIR /app
COPY --from=zulip-bot-files /out/ /app/
USER 10001:10001
ENTRYPOINT ["/nodejs/bin/node"]
CMD ["services/zulip-bot/dist/main.js"]
