// @nook/api: tRPC routers over core services.
export { appRouter, type AppRouter } from './root';
export { createCallerFactory } from './trpc';
export type { Context, SessionCookie } from './context';
export { toAssetDto, toAssetSummary, type AssetDto, type AssetSummary } from './routers/assets';
