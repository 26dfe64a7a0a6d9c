// The one tRPC instance and its guards. Errors reach clients as codes and messages, never stack traces.
import { NookError, authorize, type Action } from '@nook/core';
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
  SERVICE_UNAVAILABLE: 'SERVICE_UNAVAILABLE',
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
 * A procedure guarded by core's `authorize`, the one place that decides who may do what: `query` is
 * what its queries need, `mutation` what its mutations need.
 */
function guarded(query: Action, mutation: Action) {
  return publicProcedure.use(({ ctx, type, next }) => {
    const auth = authorize(ctx.auth, type === 'query' ? query : mutation);
    return next({ ctx: { ...ctx, auth, user: auth.user } });
  });
}

/** One's own things: sessions do what their role allows; tokens read with `read`, change with `admin`. */
export const protectedProcedure = guarded('read', 'write');
/** Like protectedProcedure, but an `upload` token may call its mutations. */
export const uploadProcedure = guarded('read', 'upload');

/** Sessions only: managing credentials with a credential would let a stolen token mint more. */
export const sessionProcedure = guarded('credentials', 'credentials').use(({ ctx, next }) =>
  next({ ctx: { ...ctx, session: ctx.auth.session! } }),
);

export const adminProcedure = guarded('administer.read', 'administer');

/**
 * Administrators' queries that look at the server's own disks (which folders exist, which are
 * writable): a token needs the `admin` scope for them, as for changes, so a read-only token cannot
 * probe paths.
 */
export const adminPathProcedure = guarded('administer', 'administer');
