// One EntityManager per request, and the user it acts for.
import type { User } from '@nook/core';
import { UserService, type EntityManager } from '@nook/core';
import type { FastifyInstance, FastifyRequest } from 'fastify';
import fp from 'fastify-plugin';
import type { ServerDeps } from './deps';

declare module 'fastify' {
  interface FastifyRequest {
    em: EntityManager;
  }
}

/** Until accounts land every request acts for the household's single administrator. */
export async function currentUser(request: FastifyRequest): Promise<User> {
  return new UserService(request.em).ensureDefaultUser();
}

export const requestContext = fp(async (app: FastifyInstance, { orm }: Pick<ServerDeps, 'orm'>) => {
  app.decorateRequest('em', null as unknown as EntityManager);
  app.addHook('onRequest', async (request) => {
    request.em = orm.em.fork();
  });
});
