// What HTTP adds to tRPC: bounded batches, sign-in calls alone in their request, and the headers
// every answer needs.
import { NookError } from '@nook/core';
import type { TRPCError } from '@trpc/server';
import { TRPC_ERROR_CODES_BY_KEY } from '@trpc/server/rpc';
import type { FastifyReply, FastifyRequest } from 'fastify';

/** A dashboard page asks a handful of questions at once; more in one request is someone's tool. */
export const MAX_BATCH_CALLS = 10;

/**
 * A batch is one HTTP request but many password checks, each a guess the address back-off counts
 * only as it runs; a credential call gets a request of its own.
 */
function isCredentialCall(procedure: string): boolean {
  return procedure.startsWith('auth.');
}

/**
 * The procedures a /trpc request calls, read from the matched route's path as tRPC reads them:
 * Fastify has decoded it once and tRPC decodes it again, so `auth%252Elogin` is `auth.login`.
 */
function proceduresOf(request: FastifyRequest): string[] | null {
  if (request.routeOptions.url !== '/trpc/:path') return null;
  try {
    return decodeURIComponent((request.params as { path: string }).path).split(',');
  } catch {
    return null; // tRPC refuses a malformed path itself.
  }
}

const httpStatusOf = { BAD_REQUEST: 400, UNAUTHORIZED: 401, FORBIDDEN: 403 } as const;

/**
 * Answers a /trpc request refused before tRPC runs as tRPC answers its own errors (one per call of a
 * batch, with the code and HTTP status in `data`), so a tRPC client (nook, the dashboard) can read
 * the refusal instead of seeing an answer it cannot parse.
 */
export function refuseTrpcCall(
  request: FastifyRequest,
  reply: FastifyReply,
  code: keyof typeof httpStatusOf,
  message: string,
): FastifyReply {
  const httpStatus = httpStatusOf[code];
  const paths = (request.params as { path: string }).path.split(',');
  const answers = paths.map((path) => ({
    error: { message, code: TRPC_ERROR_CODES_BY_KEY[code], data: { code, httpStatus, path } },
  }));
  const batch = (request.query as { batch?: string }).batch === '1';
  return reply.code(httpStatus).send(batch ? answers : answers[0]);
}

/**
 * Refuses oversized batches and batched `auth.*` calls before anything else runs: no session
 * lookup, no body read.
 */
export async function limitTrpcBatches(
  request: FastifyRequest,
  reply: FastifyReply,
): Promise<FastifyReply | undefined> {
  const procedures = proceduresOf(request);
  if (!procedures || procedures.length < 2) return;
  if (procedures.length > MAX_BATCH_CALLS)
    return refuseTrpcCall(request, reply, 'BAD_REQUEST', `a batch may hold at most ${MAX_BATCH_CALLS} calls`);
  if (procedures.some(isCredentialCall))
    return refuseTrpcCall(
      request,
      reply,
      'BAD_REQUEST',
      'auth procedures cannot be batched; send each in a request of its own',
    );
}

/** How long a refused password attempt (429, 503) is held before it is answered. */
export const REFUSAL_DELAY_MS = 1000;

const isPasswordRoute = (request: FastifyRequest) =>
  request.routeOptions.url === '/api/shares/:token/unlock' ||
  proceduresOf(request)?.some(isCredentialCall) === true;

/**
 * A refusal costs the server little, but a script answered at once asks again at once: a hundred
 * connections from one address would keep the event loop so full that a request needing the
 * database (a few turns of the loop) waits seconds. Held a second, each connection asks at most
 * once a second; a person who mistyped hardly notices. Its Retry-After then counts from the answer,
 * so a client that obeys it does not wait the held second twice.
 */
export async function delayRefusals(
  request: FastifyRequest,
  reply: FastifyReply,
  payload: unknown,
): Promise<unknown> {
  const status = payload instanceof Response ? payload.status : reply.statusCode;
  if ((status !== 429 && status !== 503) || !isPasswordRoute(request)) return payload;
  await new Promise((resolve) => setTimeout(resolve, REFUSAL_DELAY_MS));
  // tRPC answers with a Response it built (its headers can change); Nook's routes through the reply.
  const headers = payload instanceof Response ? payload.headers : null;
  const retryAfter = Number(headers ? headers.get('retry-after') : reply.getHeader('retry-after'));
  if (retryAfter > 0) {
    const left = String(Math.max(1, Math.ceil(retryAfter - REFUSAL_DELAY_MS / 1000)));
    if (headers) headers.set('retry-after', left);
    else reply.header('retry-after', left);
  }
  return payload;
}

/**
 * Every answer is about someone's account or library: never kept by a browser or a proxy. A
 * refusal that says when to come back (429, 503) says it in `Retry-After` too.
 */
export function trpcResponseMeta({ errors }: { errors: TRPCError[] }): { headers: Headers } {
  const headers = new Headers({ 'cache-control': 'no-store' });
  let wait = 0;
  for (const error of errors) {
    if (error.cause instanceof NookError) wait = Math.max(wait, error.cause.retryAfterSeconds ?? 0);
  }
  if (wait > 0) headers.set('retry-after', String(wait));
  return { headers };
}
