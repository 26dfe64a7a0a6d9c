// Asset routes for signed-in users: multipart upload, originals, thumbnails.
import { rm } from 'node:fs/promises';
import { AssetService, NookError, TooLargeError, UserService, receiveToTemp, type Asset } from '@nook/core';
import type { FastifyInstance, FastifyRequest } from 'fastify';
import { sendArchive } from '../archive';
import type { ServerDeps } from '../deps';
import { idParams, sendDerived, sendOriginal, variantQuery } from '../files';
import { requireAuth } from '../request-context';

export interface UploadedItem {
  id: string;
  sha256: string;
  duplicate: boolean;
  name: string;
  size: number;
}

const archiveBody = {
  type: 'object',
  required: ['ids'],
  properties: {
    ids: { type: 'array', minItems: 1, maxItems: 1000, items: { type: 'string', format: 'uuid' } },
  },
} as const;

/** `a=1&ids=x&ids=y` as `{ a: ['1'], ids: ['x', 'y'] }`: every field a list, as a form may repeat any. */
function parseForm(body: string): Record<string, string[]> {
  const form = new URLSearchParams(body);
  return Object.fromEntries([...new Set(form.keys())].map((key) => [key, form.getAll(key)]));
}

export async function assetRoutes(
  app: FastifyInstance,
  deps: Pick<ServerDeps, 'dataDir' | 'queue' | 'maxUploadBytes'>,
) {
  const { dataDir, queue, maxUploadBytes } = deps;
  const service = (request: FastifyRequest) => new AssetService(request.em, dataDir, queue);

  /** Someone else's asset answers exactly like a missing one. */
  const ownedAsset = async (
    request: FastifyRequest<{ Params: { id: string } }>,
  ): Promise<{ asset: Asset; assets: AssetService }> => {
    const { user } = requireAuth(request, 'read');
    const assets = service(request);
    const asset = await assets.findOwned(request.params.id, user.id);
    if (!asset) throw new NookError('NOT_FOUND', 'asset not found');
    return { asset, assets };
  };

  // The grid posts a plain form for a zip, so the browser saves it as it arrives, with its own progress.
  app.addContentTypeParser(
    'application/x-www-form-urlencoded',
    { parseAs: 'string', bodyLimit: 64 * 1024 },
    (_request, body, done) => done(null, parseForm(body as string)),
  );

  app.post('/api/assets', async (request, reply) => {
    const { user } = requireAuth(request, 'upload');
    if (!request.isMultipart()) {
      throw new NookError('BAD_REQUEST', 'expected a multipart/form-data body with one or more files');
    }
    const assets = service(request);
    const users = new UserService(request.em);
    if (user.quotaBytes !== null && (await users.usedBytes(user.id)) >= user.quotaBytes) {
      throw new NookError('PAYLOAD_TOO_LARGE', `storage quota of ${user.quotaBytes} bytes is used up`);
    }
    const library = await users.uploadLibraryOf(user);
    const uploaded: UploadedItem[] = [];
    let current = '';
    try {
      for await (const part of request.parts({ limits: { fileSize: maxUploadBytes } })) {
        if (part.type !== 'file') continue;
        current = part.filename || 'upload';
        const received = await receiveToTemp(part.file, dataDir.tmp, maxUploadBytes);
        // At the limit busboy ends the stream early and only flags it, so the file is cut, not whole.
        if (part.file.truncated) {
          await rm(received.tempPath, { force: true });
          throw new TooLargeError(maxUploadBytes);
        }
        const { asset, duplicate } = await assets.ingestUpload(user, library, received, current);
        uploaded.push({ id: asset.id, sha256: asset.sha256, duplicate, name: asset.name, size: asset.size });
      }
    } catch (error) {
      if (error instanceof TooLargeError || (error as { code?: string }).code === 'FST_REQ_FILE_TOO_LARGE') {
        throw new NookError(
          'PAYLOAD_TOO_LARGE',
          `${current} is larger than the upload limit of ${maxUploadBytes} bytes`,
        );
      }
      throw error;
    }
    if (uploaded.length === 0) throw new NookError('BAD_REQUEST', 'the request contained no files');
    return reply.code(201).send(uploaded);
  });

  app.get<{ Params: { id: string } }>(
    '/api/assets/:id/original',
    { schema: { params: idParams } },
    async (request, reply) => {
      const { asset, assets } = await ownedAsset(request);
      return sendOriginal(request, reply, asset, await assets.resolveOriginal(asset));
    },
  );

  app.get<{ Params: { id: string }; Querystring: { size: 'thumb' | 'preview' } }>(
    '/api/assets/:id/thumbnail',
    { schema: { params: idParams, querystring: variantQuery } },
    async (request, reply) => {
      const { asset } = await ownedAsset(request);
      return sendDerived(request, reply, asset, dataDir, request.query.size);
    },
  );

  app.post<{ Body: { ids: string[] } }>(
    '/api/assets/archive',
    { schema: { body: archiveBody } },
    async (request, reply) => {
      const { user } = requireAuth(request, 'read');
      const assets = service(request);
      const found = await assets.findOwnedMany(request.body.ids, user.id);
      if (found.length === 0) throw new NookError('NOT_FOUND', 'none of these assets exists');
      const members = await Promise.all(
        found.map(async (asset) => ({
          name: asset.name,
          takenAt: asset.takenAt,
          filePath: await assets.resolveOriginal(asset).catch(() => null),
        })),
      );
      const day = new Date().toISOString().slice(0, 10);
      const count = found.length === 1 ? '1 item' : `${found.length} items`;
      return sendArchive(reply, members, `Nook ${day} (${count}).zip`);
    },
  );
}
