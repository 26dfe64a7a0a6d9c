// The API's router tree. `AppRouter` is the only thing web and CLI import, and only as a type.
import { assetsRouter } from './routers/assets';
import { authRouter } from './routers/auth';
import { sharesRouter } from './routers/shares';
import { usersRouter } from './routers/users';
import { router } from './trpc';

export const appRouter = router({
  auth: authRouter,
  assets: assetsRouter,
  users: usersRouter,
  shares: sharesRouter,
});

export type AppRouter = typeof appRouter;
