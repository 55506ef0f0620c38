# syntax=docker/dockerfile:1
# One image for both `nemokeys operator` and `nemokeys gateway`. Node 24 runs the TypeScript sources
# directly (type stripping), so there is no build step: the runtime stage is production node_modules plus
# the source folders the CLI needs (keep the COPY lines in step with what bin/nemokeys.js imports).
# The compile cache is warmed at build time by the runtime user (its directory is per uid), so the
# processes never load Node's TypeScript stripper (~17 MiB each; bin/nemokeys.js, docs/design.md §7.1).
# test/image.test.ts builds it (as `npm run image` does, with podman) and runs the chart's pods from it.

FROM node:24-slim AS deps
WORKDIR /app
COPY package.json package-lock.json ./
# Production dependencies only; none of them needs an install script.
RUN npm ci --omit=dev --ignore-scripts --no-audit --no-fund && npm cache clean --force

FROM node:24-slim AS runtime
ENV NODE_ENV=production
WORKDIR /app
COPY --from=deps /app/node_modules ./node_modules
COPY package.json ./
COPY bin ./bin
COPY api ./api
COPY kube ./kube
COPY operator ./operator
COPY gateway ./gateway
COPY cli ./cli
ENV NODE_COMPILE_CACHE=/app/.compile-cache
RUN mkdir .compile-cache && chown 1000:1000 .compile-cache
# Numeric so Kubernetes can verify runAsNonRoot; 1000 is the image's `node` user.
USER 1000:1000
# Node keys the cache by some V8 flags: warm it with none and with the chart's default operator.nodeFlags.
RUN node bin/warm-compile-cache.js && node --optimize-for-size bin/warm-compile-cache.js
EXPOSE 8000 8080 8081 9090
ENTRYPOINT ["node", "--disable-warning=ExperimentalWarning", "bin/nemokeys.js"]
CMD ["--help"]
