// buildApp: the Fastify instance with every route, apart from listen() so tests can inject().
import { existsSync } from 'node:fs';
import fastifyMultipart from '@fastify/multipart';
import { appRouter, type AppRouter } from '@nook/api';
import { UserService } from '@nook/core';
import { fastifyTRPCPlugin, type FastifyTRPCPluginOptions } from '@trpc/server/adapters/fastify';
import Fastify, { LogController, type FastifyBaseLogger, type FastifyInstance } from 'fastify';
import type { ServerDeps } from './deps';
import { errorReplies } from './errors';
import { requestContext } from './request-context';
import { assetRoutes } from './routes/assets';
import { healthRoutes } from './routes/health';
import { webRoutes } from './routes/web';

export async function buildApp(deps: ServerDeps): Promise<FastifyInstance> {
  const app: FastifyInstance = Fastify({
    loggerInstance: deps.logger.child({ component: 'http' }) as FastifyBaseLogger,
    // Per-request lines would drown a Pi's journal; errors are still logged by the error handler.
    logController: new LogController({ disableRequestLogging: true }),
    routerOptions: { maxParamLength: 5000 },
    trustProxy: false,
  });

  await app.register(errorReplies);
  await app.register(requestContext, { orm: deps.orm });
  await app.register(fastifyMultipart, { throwFileSizeLimit: true });

  await app.register(healthRoutes, deps);
  await app.register(assetRoutes, deps);
  await app.register(fastifyTRPCPlugin, {
    prefix: '/trpc',
    trpcOptions: {
      router: appRouter,
      createContext: async ({ req }) => ({
        em: req.em,
        user: await new UserService(req.em).ensureDefaultUser(),
        dataDir: deps.dataDir,
        queue: deps.queue,
      }),
      onError({ error, path }) {
        if (error.code === 'INTERNAL_SERVER_ERROR')
          deps.logger.error({ err: error.cause ?? error, path }, 'procedure failed');
      },
    } satisfies FastifyTRPCPluginOptions<AppRouter>['trpcOptions'],
  });

  if (deps.webRoot && existsSync(deps.webRoot)) await app.register(webRoutes, { webRoot: deps.webRoot });
  else
    deps.logger.warn(
      { webRoot: deps.webRoot },
      'web build not found; the dashboard is not served (run npm run build)',
    );

  return app;
}
