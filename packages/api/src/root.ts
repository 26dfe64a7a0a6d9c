// The API's router tree. `AppRouter` is the only thing web and CLI import, and only as a type.
import { albumsRouter } from './routers/albums';
import { assetsRouter } from './routers/assets';
import { authRouter } from './routers/auth';
import { backupsRouter } from './routers/backups';
import { foldersRouter } from './routers/folders';
import { jobsRouter } from './routers/jobs';
import { librariesRouter } from './routers/libraries';
import { searchRouter } from './routers/search';
import { sharesRouter } from './routers/shares';
import { statsRouter } from './routers/stats';
import { trashRouter } from './routers/trash';
import { usersRouter } from './routers/users';
import { router } from './trpc';

export const appRouter = router({
  auth: authRouter,
  assets: assetsRouter,
  users: usersRouter,
  jobs: jobsRouter,
  libraries: librariesRouter,
  trash: trashRouter,
  folders: foldersRouter,
  albums: albumsRouter,
  search: searchRouter,
  stats: statsRouter,
  shares: sharesRouter,
  backups: backupsRouter,
});

export type AppRouter = typeof appRouter;
