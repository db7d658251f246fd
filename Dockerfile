# Sluice's one image: both sluice-dataplane and sluice-operator, picked by the command
# (manifests/base and charts/sluice run `node dist/<component>/main.js`).
#
#   npm run image        # docker build -t ghcr.io/sluice/sluice:$npm_package_version .
#
# Two stages: `build` installs every dependency, compiles TypeScript and then drops the
# development dependencies; the runtime stage takes only dist/ and the production node_modules
# from it, and runs as a non-root user. The base is pinned to a Node 20 minor and a Debian
# release, the same in both stages, so native modules (zeromq, msgpackr-extract) are installed
# for the glibc they run on. test/dockerfile.test.ts checks these properties without Docker, and
# test/image.test.ts builds and runs the image where a builder works (hack/image/build.sh).
#
# BASE_IMAGE exists so a machine that cannot pull from Docker Hub can build on a local stand-in
# (hack/image/build.sh --stand-in-base); leave it at the default for an image you ship.
ARG BASE_IMAGE=node:20.20-bookworm-slim

# ---- build ------------------------------------------------------------------------------------
FROM ${BASE_IMAGE} AS build
WORKDIR /src
# Dependencies first, so a source change reuses the cached install layer.
COPY package.json package-lock.json ./
# `npm ls` fails on a partial install: npm 10.8.2 (the base's) was seen to exit 0 after "Exit
# handler never called!" with half of node_modules missing, when its registry requests failed
# on TLS; without the check that layer is cached and the failure shows up later, or never.
RUN npm ci --no-audit --no-fund \
 && npm ls --all >/dev/null
COPY tsconfig.json tsconfig.build.json ./
COPY shared ./shared
COPY operator ./operator
COPY dataplane ./dataplane
COPY hack ./hack
RUN npx tsc -p tsconfig.build.json \
 && chmod +x dist/dataplane/main.js dist/operator/main.js \
 && npm prune --omit=dev --no-audit --no-fund

# ---- runtime ----------------------------------------------------------------------------------
FROM ${BASE_IMAGE}
ENV NODE_ENV=production
WORKDIR /app
# The same user and group the Deployments ask for (runAsUser/runAsGroup 65532); numeric, so
# Kubernetes can verify runAsNonRoot. Files stay owned by root: the process cannot change them.
RUN groupadd --gid 65532 sluice \
 && useradd --uid 65532 --gid 65532 --no-create-home --home-dir /nonexistent --shell /usr/sbin/nologin sluice \
 && ln -s /app/dist/dataplane/main.js /usr/local/bin/sluice-dataplane \
 && ln -s /app/dist/operator/main.js /usr/local/bin/sluice-operator
COPY --from=build /src/node_modules ./node_modules
COPY --from=build /src/dist ./dist
USER 65532:65532
# The data plane's traffic and admin ports (the operator listens on none).
EXPOSE 8080 8081
# `docker run <image> sluice-operator --help` runs the other component.
CMD ["sluice-dataplane"]
