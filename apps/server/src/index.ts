// @nook/server: the HTTP server (Fastify + tRPC); the CLI decides when it listens.
export { buildApp } from './app';
export type { ServerDeps } from './deps';
export type { UploadedItem } from './routes/assets';
export type { RegisteredRoute } from './app';
export { SESSION_COOKIE } from './request-context';
