// The dashboard: SvelteKit's static build, with index.html for every client-side route.
import { existsSync } from 'node:fs';
import path from 'node:path';
import fastifyStatic from '@fastify/static';
import type { FastifyInstance } from 'fastify';

export async function webRoutes(app: FastifyInstance, { webRoot }: { webRoot: string }) {
  await app.register(fastifyStatic, {
    root: webRoot,
    wildcard: false,
    index: ['index.html'],
    setHeaders(reply, filePath) {
      // SvelteKit fingerprints everything under _app/immutable; the rest must be revalidated.
      const immutable = filePath.includes(`${path.sep}_app${path.sep}immutable${path.sep}`);
      reply.header('Cache-Control', immutable ? 'public, max-age=31536000, immutable' : 'no-cache');
    },
  });

  app.get('/*', async (request, reply) => {
    const urlPath = request.url.split('?')[0]!;
    if (urlPath.startsWith('/api/') || urlPath.startsWith('/trpc/')) {
      return reply
        .code(404)
        .send({ error: 'not_found', message: `No route for ${request.method} ${urlPath}` });
    }
    const file = path.join(webRoot, path.normalize(urlPath));
    if (file.startsWith(webRoot + path.sep) && existsSync(file) && !urlPath.endsWith('/'))
      return reply.sendFile(path.relative(webRoot, file));
    return reply.header('Cache-Control', 'no-cache').sendFile('index.html');
  });
}
