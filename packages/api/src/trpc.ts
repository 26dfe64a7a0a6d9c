// The one tRPC instance and its guards. Errors reach clients as codes and messages, never stack traces.
import { NookError, type TokenScope } from '@nook/core';
import { initTRPC, TRPCError } from '@trpc/server';
import type { Context } from './context';

const t = initTRPC.context<Context>().create({
  isDev: false,
  // An unexpected failure's message may quote SQL or paths: clients get a plain sentence instead.
  errorFormatter: ({ shape, error }) =>
    error.code === 'INTERNAL_SERVER_ERROR'
      ? { ...shape, message: 'Something went wrong on the server.' }
      : shape,
});

const trpcCodes = {
  BAD_REQUEST: 'BAD_REQUEST',
  UNAUTHORIZED: 'UNAUTHORIZED',
  FORBIDDEN: 'FORBIDDEN',
  NOT_FOUND: 'NOT_FOUND',
  CONFLICT: 'CONFLICT',
  PAYLOAD_TOO_LARGE: 'PAYLOAD_TOO_LARGE',
  TOO_MANY_REQUESTS: 'TOO_MANY_REQUESTS',
} as const;

/** Domain errors become tRPC errors with the same message; anything else stays an internal error. */
const domainErrors = t.middleware(async ({ next }) => {
  const result = await next();
  if (!result.ok && result.error.cause instanceof NookError) {
    const cause = result.error.cause;
    throw new TRPCError({ code: trpcCodes[cause.code], message: cause.message, cause });
  }
  return result;
});

export const router = t.router;
export const createCallerFactory = t.createCallerFactory;
export const publicProcedure = t.procedure.use(domainErrors);

/**
 * Signed in with a session (everything the role allows) or an API token (its scopes: `read` for
 * queries, `admin` for anything; a procedure may accept another scope for its mutation).
 */
function authed(mutationScope: TokenScope = 'admin') {
  return publicProcedure.use(({ ctx, type, next }) => {
    if (!ctx.auth) throw new TRPCError({ code: 'UNAUTHORIZED', message: 'sign in first' });
    const token = ctx.auth.apiToken;
    if (token) {
      const needed: TokenScope = type === 'query' ? 'read' : mutationScope;
      if (!token.scopes.includes(needed) && !token.scopes.includes('admin')) {
        throw new TRPCError({ code: 'FORBIDDEN', message: `this token lacks the ${needed} scope` });
      }
    }
    return next({ ctx: { ...ctx, auth: ctx.auth, user: ctx.auth.user } });
  });
}

export const protectedProcedure = authed();
export const uploadProcedure = authed('upload');

/** Sessions only: managing credentials with a credential would let a stolen token mint more. */
export const sessionProcedure = protectedProcedure.use(({ ctx, next }) => {
  if (!ctx.auth.session)
    throw new TRPCError({
      code: 'FORBIDDEN',
      message: 'this needs a signed-in browser session, not an API token',
    });
  return next({ ctx: { ...ctx, session: ctx.auth.session } });
});

export const adminProcedure = protectedProcedure.use(({ ctx, next }) => {
  if (ctx.user.role !== 'admin')
    throw new TRPCError({ code: 'FORBIDDEN', message: 'only administrators can do this' });
  return next();
});
