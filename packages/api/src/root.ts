// The API's router tree. `AppRouter` is the only thing web and CLI import, and only as a type.
import { assetsRouter } from './routers/assets';
import { router } from './trpc';

export const appRouter = router({
  assets: assetsRouter,
});

export type AppRouter = typeof appRouter;
