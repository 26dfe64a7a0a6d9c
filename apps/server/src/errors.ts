// Error replies: a code and a message for the client, the cause in the log, never a stack trace.
import { NookError, httpStatusOf } from '@nook/core';
import type { FastifyError, FastifyInstance } from 'fastify';
import fp from 'fastify-plugin';

export interface ErrorBody {
  error: string;
  message: string;
}

export const errorReplies = fp(async (app: FastifyInstance) => {
  app.setErrorHandler((error: FastifyError | NookError, request, reply) => {
    if (error instanceof NookError) {
      if (error.retryAfterSeconds) reply.header('Retry-After', error.retryAfterSeconds);
      return reply
        .code(httpStatusOf[error.code])
        .send({ error: error.code.toLowerCase(), message: error.message } satisfies ErrorBody);
    }
    const status = error.statusCode && error.statusCode >= 400 ? error.statusCode : 500;
    if (status >= 500) {
      request.log.error({ err: error }, 'request failed');
      return reply.code(status).send({
        error: 'internal_error',
        message: 'Something went wrong on the server.',
      } satisfies ErrorBody);
    }
    return reply
      .code(status)
      .send({ error: error.code ?? 'bad_request', message: error.message } satisfies ErrorBody);
  });

  app.setNotFoundHandler((request, reply) =>
    reply
      .code(404)
      .send({ error: 'not_found', message: `No route for ${request.method} ${request.url.split('?')[0]}` }),
  );
});
