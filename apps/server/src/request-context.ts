// Per request: an EntityManager, who is calling (session cookie or API token), and the client's address.
import {
  AuthService,
  NookError,
  authorize,
  type Action,
  SESSION_LIFETIME_MS,
  type Authenticated,
  type ClientInfo,
  type EntityManager,
  type LoginThrottle,
  type MikroORM,
  type ReadDb,
} from '@nook/core';
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import fp from 'fastify-plugin';
import { refuseTrpcCall } from './trpc-http';

export const SESSION_COOKIE = 'nook_session';

declare module 'fastify' {
  interface FastifyRequest {
    em: EntityManager;
    auth: Authenticated | null;
  }
  interface FastifyContextConfig {
    /** Reachable without signing in (health, public share links). */
    public?: boolean;
    /** What an /api route does, for `authorize`; `read` unless it says otherwise. */
    access?: Action;
  }
}

export function clientOf(request: FastifyRequest): ClientInfo {
  return { ip: request.ip, userAgent: String(request.headers['user-agent'] ?? '').slice(0, 512) };
}

export function setSessionCookie(request: FastifyRequest, reply: FastifyReply, token: string): void {
  reply.setCookie(SESSION_COOKIE, token, {
    path: '/',
    httpOnly: true,
    sameSite: 'lax',
    secure: request.protocol === 'https',
    maxAge: SESSION_LIFETIME_MS / 1000,
  });
}

export function clearSessionCookie(request: FastifyRequest, reply: FastifyReply): void {
  reply.clearCookie(SESSION_COOKIE, {
    path: '/',
    httpOnly: true,
    sameSite: 'lax',
    secure: request.protocol === 'https',
  });
}

/** The caller, when core's `authorize` lets them do this. */
export function requireAuth(request: FastifyRequest, action: Exclude<Action, 'public'>): Authenticated {
  return authorize(request.auth, action);
}

/** What a route needs of its caller: `public` routes say so, every other one declares or reads. */
export function routeAccess(config: { public?: boolean; access?: Action }): Action {
  return config.public ? 'public' : (config.access ?? 'read');
}

const unsafeMethods = new Set(['POST', 'PUT', 'PATCH', 'DELETE']);

/**
 * A cookie-authenticated change must come from our own pages: the Origin (or, lacking it, the
 * Referer) must name this host. SameSite=Lax already keeps the cookie off most cross-site requests.
 */
function isSameOrigin(request: FastifyRequest): boolean {
  const source = request.headers.origin ?? request.headers.referer;
  if (!source) return false;
  try {
    return new URL(source).host === request.headers.host;
  } catch {
    return false;
  }
}

/**
 * Refuses the caller before any route runs: a /trpc call as a tRPC error, so a tRPC client can tell
 * a refused token from a server it cannot reach; elsewhere, Nook's `{ error, message }`.
 */
function refuse(
  request: FastifyRequest,
  reply: FastifyReply,
  code: 'UNAUTHORIZED' | 'FORBIDDEN',
  message: string,
): FastifyReply {
  if (request.routeOptions.url !== '/trpc/:path') throw new NookError(code, message);
  return refuseTrpcCall(request, reply, code, message);
}

export const requestContext = fp(
  async (
    app: FastifyInstance,
    { orm, throttle, readDb }: { orm: MikroORM; throttle: LoginThrottle; readDb: ReadDb },
  ) => {
    app.decorateRequest('em', null as unknown as EntityManager);
    app.decorateRequest('auth', null);

    app.addHook('onRequest', async (request, reply) => {
      request.em = orm.em.fork();
      const auth = new AuthService(request.em, throttle);
      const header = request.headers.authorization;
      if (header !== undefined) {
        const [scheme, secret] = header.split(' ');
        request.auth =
          scheme?.toLowerCase() === 'bearer' && secret ? await auth.authenticateToken(secret) : null;
        if (!request.auth)
          return refuse(request, reply, 'UNAUTHORIZED', 'the API token is invalid or revoked');
        return;
      }
      const cookie = request.cookies[SESSION_COOKIE];
      if (!cookie) return;
      request.auth = await auth.authenticateSessionFast(readDb, cookie);
      if (!request.auth) clearSessionCookie(request, reply);
      else if (unsafeMethods.has(request.method) && !isSameOrigin(request)) {
        return refuse(request, reply, 'FORBIDDEN', 'cross-site request refused');
      }
    });

    // Default deny: every /api route is authorized for what it declares (reading, unless it says
    // otherwise). Checked before the body is read or validated, so a stranger learns nothing and
    // uploads nothing; handlers that act on one caller's things ask `authorize` again with the target.
    app.addHook('onRequest', async (request) => {
      // The route matched, not the raw URL: the router decodes %61pi as api.
      const route = request.routeOptions.url ?? '';
      if (route.startsWith('/api/')) authorize(request.auth, routeAccess(request.routeOptions.config));
    });
  },
);
