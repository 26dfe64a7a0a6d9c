// Resumable uploads (tus 1.0) at /api/uploads; a finished upload takes the same path as POST /api/assets.
import { AsyncLocalStorage } from 'node:async_hooks';
import { randomBytes, randomUUID } from 'node:crypto';
import { link, rm } from 'node:fs/promises';
import path from 'node:path';
import {
  AssetService,
  NookError,
  UserService,
  hashFile,
  httpStatusOf,
  uploadReservations,
  type EntityManager,
  type User,
} from '@nook/core';
import { EVENTS, Server, type Upload } from '@tus/server';
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import type { ServerDeps } from '../deps';
import { requireAuth } from '../request-context';
import {
  NookUploadStore,
  checksumAlgorithms,
  tusDirectory,
  type ChecksumAlgorithm,
  type ExpectedChecksum,
  type UploadQuota,
} from '../tus/upload-store';

export const UPLOADS_PATH = '/api/uploads';

/** Response headers of the request that finishes an upload: what became of it. */
export const ASSET_HEADERS = ['Nook-Asset-Id', 'Nook-Asset-Sha256', 'Nook-Duplicate'];

interface UploadContext {
  user: User;
  em: EntityManager;
  checksum: ExpectedChecksum | undefined;
  /** Requests that bring or announce bytes (POST, PATCH) hold a reservation on the quota. */
  quota: UploadQuota | undefined;
}

interface TusError {
  status_code: number;
  body: string;
}

const isTusError = (error: unknown): error is TusError =>
  typeof error === 'object' && error !== null && 'status_code' in error;

/** `Upload-Checksum: <algorithm> <base64 digest>`; an algorithm we do not know is a 400, as the extension says. */
function parseChecksum(header: string | string[] | undefined): ExpectedChecksum | undefined {
  if (header === undefined) return undefined;
  const [algorithm, digest, extra] = String(header).trim().split(/\s+/);
  if (!checksumAlgorithms.includes(algorithm as ChecksumAlgorithm)) {
    throw new NookError(
      'BAD_REQUEST',
      `Upload-Checksum: unsupported algorithm ${JSON.stringify(algorithm)} (use ${checksumAlgorithms.join(', ')})`,
    );
  }
  if (!digest || extra !== undefined || !/^[A-Za-z0-9+/]+={0,2}$/.test(digest)) {
    throw new NookError('BAD_REQUEST', 'Upload-Checksum: expected "<algorithm> <base64 digest>"');
  }
  return { algorithm: algorithm as ChecksumAlgorithm, digest };
}

export async function uploadRoutes(
  app: FastifyInstance,
  deps: Pick<ServerDeps, 'dataDir' | 'queue' | 'maxUploadBytes' | 'uploadExpiryMs' | 'logger'>,
) {
  const { dataDir, queue, maxUploadBytes, uploadExpiryMs, logger } = deps;
  const log = logger.child({ component: 'uploads' });
  const requests = new AsyncLocalStorage<UploadContext>();
  const context = (): UploadContext => {
    const current = requests.getStore();
    if (!current) throw new Error('a tus hook ran outside an upload request');
    return current;
  };
  const store = new NookUploadStore(
    { directory: tusDirectory(dataDir.tmp), expirationPeriodInMilliseconds: uploadExpiryMs },
    () => requests.getStore()?.checksum,
    () => requests.getStore()?.quota,
  );

  /** Domain errors keep their status and message; anything else is logged and answered plainly. */
  const toTusError = (error: unknown): TusError => {
    if (error instanceof NookError)
      return { status_code: httpStatusOf[error.code], body: `${error.message}\n` };
    if (isTusError(error)) return error;
    log.error({ err: error }, 'upload failed');
    return { status_code: 500, body: 'Something went wrong on the server.\n' };
  };

  /**
   * Opens the request's hold on the quota. Unfinished uploads count as if stored (their announced
   * length, or what a deferred-length one has written): read from disk before the database, so an
   * upload finishing meanwhile (row inserted, then its parts removed) is counted at least once.
   */
  const openQuota = async (user: User, em: EntityManager): Promise<UploadQuota> => {
    let stored = 0;
    const reservation = await uploadReservations.open(user.id, user.quotaBytes, async () => {
      const pending = await store.pendingBytes(user.id);
      stored = await new UserService(em).usedBytes(user.id);
      return pending + stored;
    });
    return {
      reservation,
      describe: ({ stored: counted, others, held }) => {
        const pending = counted - stored + others;
        return (
          `storage quota exceeded: ${stored} of ${user.quotaBytes} bytes used` +
          (pending ? `, ${pending} in unfinished uploads` : '') +
          `, this upload needs ${held}`
        );
      },
    };
  };

  /** At creation: an announced length is reserved whole; a deferred one needs room for its first byte. */
  const reserveAtCreation = (size: number | undefined) => {
    const { quota } = context();
    if (!quota) return;
    if (size === undefined) quota.reservation.check(1, quota.describe);
    else quota.reservation.grow(size, quota.describe);
  };

  /** Hash (unless it was hashed on the way in), dedup, link into the library, queue its metadata job. */
  const finish = async (upload: Upload) => {
    const { user, em, quota } = context();
    const size = upload.size ?? upload.offset;
    const storedPath = upload.storage!.path;
    const sha256 = store.takeSha256(upload.id, size) ?? (await hashFile(storedPath)).sha256;
    // A second name for the bytes: ingestUpload consumes it, while tus still answers for the upload
    // until the response is out (POST_FINISH removes it).
    const tempPath = path.join(dataDir.tmp, `${randomUUID()}.part`);
    await link(storedPath, tempPath);
    try {
      const users = new UserService(em);
      const { asset, duplicate, restored } = await new AssetService(em, dataDir, queue).ingestUpload(
        user,
        await users.uploadLibraryOf(user),
        { tempPath, sha256, size },
        upload.metadata?.filename ?? upload.metadata?.name ?? 'upload',
      );
      // What this request reserved is not stored after all when nothing new was.
      if (duplicate || restored) quota?.reservation.release(size);
      return {
        headers: {
          'Nook-Asset-Id': asset.id,
          'Nook-Asset-Sha256': asset.sha256,
          'Nook-Duplicate': String(duplicate),
        },
      };
    } catch (error) {
      await rm(tempPath, { force: true });
      // Left in place, the finished upload would answer a retry's HEAD as complete although it was refused.
      await store.remove(upload.id).catch(() => undefined);
      throw toTusError(error);
    }
  };

  const tus = new Server({
    path: UPLOADS_PATH,
    datastore: store,
    maxSize: maxUploadBytes,
    relativeLocation: true,
    // The dashboard is same-origin; no other site may drive uploads with a visitor's cookie.
    allowedOrigins: () => false,
    allowedHeaders: ['Upload-Checksum'],
    exposedHeaders: ['Upload-Checksum', 'Tus-Checksum-Algorithm', ...ASSET_HEADERS],
    // The owner's id leads the upload's id, so every later request is checked without a lookup.
    namingFunction: () => `${context().user.id}.${randomBytes(16).toString('hex')}`,
    onUploadCreate: async (_request, upload) => {
      try {
        reserveAtCreation(upload.size);
      } catch (error) {
        throw toTusError(error);
      }
      return {};
    },
    onUploadFinish: (_request, upload) => finish(upload),
    onResponseError: (_request, error) => toTusError(error),
  });
  tus.on(EVENTS.POST_FINISH, (_request, _response, upload) => {
    store
      .remove(upload.id)
      .catch((error: unknown) => log.warn({ err: error, id: upload.id }, 'tus cleanup failed'));
  });

  const expire = () =>
    tus.cleanUpExpiredUploads().then(
      (count) => count > 0 && log.info({ count }, 'expired unfinished uploads removed'),
      (error: unknown) => log.warn({ err: error }, 'expiring unfinished uploads failed'),
    );
  void expire();
  const timer = setInterval(expire, Math.min(uploadExpiryMs, 3600_000)).unref();
  app.addHook('onClose', async () => clearInterval(timer));

  // tus reads the body itself, unparsed and without Fastify's body limit (maxSize bounds it).
  app.removeAllContentTypeParsers();
  app.addContentTypeParser('*', (_request, _payload, done) => done(null));

  const handle = async (request: FastifyRequest<{ Params: { id?: string } }>, reply: FastifyReply) => {
    const { user } = requireAuth(request, 'upload');
    const { id } = request.params;
    // tus takes the id from the raw URL (query and escapes included), so only an exact id of this
    // user's is let through, and tus is handed the URL Fastify routed on.
    if (id !== undefined && !new RegExp(`^${user.id}\\.[0-9a-f]{32}$`).test(id))
      throw new NookError('NOT_FOUND', 'upload not found');
    request.raw.url = id === undefined ? UPLOADS_PATH : `${UPLOADS_PATH}/${id}`;
    const checksum = parseChecksum(request.headers['upload-checksum']);
    const quota =
      request.method === 'POST' || request.method === 'PATCH' ? await openQuota(user, request.em) : undefined;
    reply.hijack();
    if (request.method === 'OPTIONS')
      reply.raw.setHeader('Tus-Checksum-Algorithm', checksumAlgorithms.join(','));
    try {
      await requests.run({ user, em: request.em, checksum, quota }, () => tus.handle(request.raw, reply.raw));
      // What was reserved now lies in tus's store or in the library, where the next measure counts it.
      if (reply.raw.statusCode < 300) quota?.reservation.settle();
    } catch (error) {
      // Past hijack() Fastify no longer answers for us: a failure must still end the response.
      log.error({ err: error }, 'tus request failed');
      if (!reply.raw.headersSent) reply.raw.writeHead(500, { 'content-type': 'text/plain' });
      reply.raw.end();
    } finally {
      quota?.reservation.close();
    }
  };
  app.route({
    method: ['POST', 'OPTIONS'],
    url: UPLOADS_PATH,
    config: { access: 'upload' },
    handler: handle,
  });
  app.route({
    method: ['HEAD', 'PATCH', 'DELETE', 'OPTIONS'],
    url: `${UPLOADS_PATH}/:id`,
    config: { access: 'upload' },
    handler: handle,
  });
}
