# Nook as a container: a build stage with the native toolchain, a slim runtime with ffmpeg.
# Run: docker run -p 8080:8080 -e NOOK_HOST=0.0.0.0 -v nook-data:/data nook
FROM node:20-bookworm-slim AS build
RUN apt-get update \
 && apt-get install -y --no-install-recommends python3 make g++ \
 && rm -rf /var/lib/apt/lists/*
WORKDIR /app
COPY package.json package-lock.json turbo.json tsconfig.base.json ./
COPY apps ./apps
COPY packages ./packages
RUN npm ci --no-audit --no-fund \
 && npx turbo run build --filter=@nook/web \
 && npm prune --omit=dev

FROM node:20-bookworm-slim
RUN apt-get update \
 && apt-get install -y --no-install-recommends ffmpeg libheif-examples libimage-exiftool-perl \
 && rm -rf /var/lib/apt/lists/* \
 && mkdir /data && chown node:node /data
COPY --from=build --chown=node:node /app /app
WORKDIR /app
USER node
ENV NODE_ENV=production NOOK_DATA_DIR=/data NOOK_PORT=8080
VOLUME ["/data"]
EXPOSE 8080
HEALTHCHECK --interval=30s --timeout=5s --start-period=60s \
  CMD node -e "fetch('http://127.0.0.1:8080/api/health').then(r=>process.exit(r.ok?0:1),()=>process.exit(1))"
CMD ["node", "apps/cli/bin/nook.js", "start"]
