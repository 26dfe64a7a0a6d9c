// buildApp: the Fastify instance with every route, apart from listen() so tests can build their own.
import { existsSync } from 'node:fs';
import fastifyCookie from '@fastify/cookie';
import fastifyMultipart from '@fastify/multipart';
import { appRouter, type AppRouter } from '@nook/api';
import { LibraryReads, LoginThrottle, ReadDb, StatsCache } from '@nook/core';
import { fastifyTRPCPlugin, type FastifyTRPCPluginOptions } from '@trpc/server/adapters/fastify';
import Fastify, { LogController, type FastifyBaseLogger, type FastifyInstance } from 'fastify';
import type { ServerDeps } from './deps';
import { errorReplies } from './errors';
import { clearSessionCookie, clientOf, requestContext, setSessionCookie } from './request-context';
import { responseMemo } from './response-memo';
import { assetRoutes } from './routes/assets';
import { healthRoutes } from './routes/health';
import { shareRoutes } from './routes/shares';
import { uploadRoutes } from './routes/uploads';
import { webRoutes } from './routes/web';
import { securityHeaders } from './security';
import { delayRefusals, limitTrpcBatches, trpcResponseMeta } from './trpc-http';

export interface RegisteredRoute {
  method: string;
  url: string;
  public: boolean;
}

declare module 'fastify' {
  interface FastifyInstance {
    /** Every route, as registered: the authorization test walks this list. */
    registeredRoutes: RegisteredRoute[];
  }
}

export async function buildApp(deps: ServerDeps): Promise<FastifyInstance> {
  const app: FastifyInstance = Fastify({
    loggerInstance: deps.logger.child({ component: 'http' }) as FastifyBaseLogger,
    // Per-request lines would drown a Pi's journal; errors are still logged by the error handler.
    logController: new LogController({ disableRequestLogging: true }),
    routerOptions: { maxParamLength: 5000 },
    // One proxy in front (the documented setup): the client is the address it saw, the right-most
    // X-Forwarded-For entry; anything to its left was written by the client and proves nothing.
    trustProxy: deps.trustProxy ? (_address: string, hop: number) => hop < 1 : false,
    bodyLimit: 1024 * 1024,
  });
  const routes: RegisteredRoute[] = [];
  app.decorate('registeredRoutes', routes);
  app.addHook('onRoute', (route) => {
    for (const method of [route.method].flat()) {
      routes.push({
        method,
        url: route.url,
        public: Boolean((route.config as { public?: boolean } | undefined)?.public),
      });
    }
  });

  const throttle = new LoginThrottle();
  // Share-link unlocks back off on their own: a wrong share password never delays a sign-in.
  const shareThrottle = new LoginThrottle();
  // The hot reads (sessions, timeline, buckets, search, stats) use their own read-only connection.
  const readDb = new ReadDb(deps.orm.config.get('dbName'));
  app.addHook('onClose', async () => readDb.close());
  const reads = new LibraryReads(readDb);
  const statsCache = new StatsCache(readDb);
  await app.register(errorReplies);
  await app.register(securityHeaders, { webRoot: deps.webRoot });
  await app.register(fastifyCookie);
  app.addHook('onRequest', limitTrpcBatches);
  app.addHook('onSend', delayRefusals);
  await app.register(responseMemo, { readDb, reads });
  await app.register(requestContext, { orm: deps.orm, throttle, readDb });
  await app.register(fastifyMultipart, { throwFileSizeLimit: true });

  await app.register(healthRoutes, deps);
  await app.register(assetRoutes, deps);
  await app.register(uploadRoutes, deps);
  await app.register(shareRoutes, { ...deps, throttle: shareThrottle });
  await app.register(fastifyTRPCPlugin, {
    prefix: '/trpc',
    trpcOptions: {
      router: appRouter,
      createContext: ({ req, res }) => ({
        em: req.em,
        reads,
        auth: req.auth,
        client: clientOf(req),
        // req.host is X-Forwarded-Host only when the proxy is trusted.
        // The Host the request itself carries: X-Forwarded-Host is whatever a client wants it to be
        // unless the proxy overwrites it, and setup must not take a client's word for where it is.
        origin: { host: req.headers.host, origin: req.headers.origin, ip: req.ip },
        publicHosts: deps.publicHosts ?? [],
        dataDir: deps.dataDir,
        queue: deps.queue,
        throttle,
        trashDays: deps.trashDays,
        statsCache,
        sessionCookie: {
          set: (token: string) => setSessionCookie(req, res, token),
          clear: () => clearSessionCookie(req, res),
        },
      }),
      responseMeta: trpcResponseMeta,
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
