// @nook/api: tRPC routers over core services.
export { appRouter, type AppRouter } from './root';
export { createCallerFactory } from './trpc';
export type { Context, SessionCookie } from './context';
export { listInput, toAssetDto, toAssetSummary, type AssetDto, type AssetSummary } from './routers/assets';
export { toFilters } from './routers/filters';
