# Nook as a container: a build stage with the native toolchain, a slim runtime with ffmpeg.
# Multi-arch: every dependency ships or builds for linux/amd64 and linux/arm64 (a Raspberry Pi 4/5):
#   docker buildx build --platform linux/amd64,linux/arm64 -t nook .
# Run (deploy/docker-compose.yml has the full example, with NAS shares and an external PostgreSQL):
#   docker run --init -p 8080:8080 -v nook-data:/data -v /mnt/photos:/libraries/photos:ro nook
FROM node:20-bookworm-slim AS build
# sqlite3 compiles from source when no prebuilt binary can be fetched.
RUN apt-get update \
 && apt-get install -y --no-install-recommends python3 make g++ \
 && rm -rf /var/lib/apt/lists/*
WORKDIR /app
COPY package.json package-lock.json turbo.json tsconfig.base.json ./
COPY apps ./apps
COPY packages ./packages
RUN npm ci --no-audit --no-fund \
 && TURBO_TELEMETRY_DISABLED=1 npx turbo run build --filter=@nook/web \
 && npm prune --omit=dev \
 && rm -rf apps/web/.svelte-kit .turbo

FROM node:20-bookworm-slim
RUN apt-get update \
 && apt-get install -y --no-install-recommends ffmpeg libheif-examples libimage-exiftool-perl \
 && rm -rf /var/lib/apt/lists/* \
 && mkdir /data /libraries \
 && chown node:node /data
COPY --from=build --chown=root:root /app /app
WORKDIR /app
# The image's own user (uid 1000); files it writes in /data belong to it. Library mounts are read-only.
USER node
ENV NODE_ENV=production NOOK_DATA_DIR=/data NOOK_HOST=0.0.0.0 NOOK_PORT=8080
VOLUME ["/data"]
EXPOSE 8080
HEALTHCHECK --interval=30s --timeout=5s --start-period=90s --retries=3 \
  CMD ["node", "-e", "fetch('http://127.0.0.1:'+process.env.NOOK_PORT+'/api/health').then(r=>process.exit(r.ok?0:1),()=>process.exit(1))"]
CMD ["node", "apps/cli/bin/nook.js", "start"]
