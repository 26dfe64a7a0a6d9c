// GET /api/health: whether the metadata database and the queue answer. No auth, by contract.
import type { FastifyInstance } from 'fastify';
import type { ServerDeps } from '../deps';

export async function healthRoutes(
  app: FastifyInstance,
  { orm, queue, version }: Pick<ServerDeps, 'orm' | 'queue' | 'version'>,
) {
  app.get('/api/health', { config: { public: true } }, async (request, reply) => {
    const db = await request.em
      .getConnection()
      .execute('select 1')
      .then(() => 'ok' as const)
      .catch(() => 'error' as const);
    const queueState = (await queue.ping()) ? ('ok' as const) : ('error' as const);
    const healthy = db === 'ok' && queueState === 'ok' && (await orm.isConnected());
    return reply
      .code(healthy ? 200 : 503)
      .send({ status: healthy ? 'ok' : 'error', db, queue: queueState, version });
  });
}
