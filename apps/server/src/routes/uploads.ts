// Resumable uploads (tus 1.0) at /api/uploads; a finished upload takes the same path as POST /api/assets.
import { AsyncLocalStorage } from 'node:async_hooks';
import { randomBytes } from 'node:crypto';
import { link, rm } from 'node:fs/promises';
import path from 'node:path';
import {
  Asset,
  AssetService,
  NookError,
  User,
  UserService,
  hashFile,
  httpStatusOf,
  persistStored,
  recordRecovery,
  recoverPlacements,
  uploadReservations,
  type EntityManager,
  type UploadResult,
} from '@nook/core';
import { EVENTS, Server, type Upload } from '@tus/server';
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import type { ServerDeps } from '../deps';
import { requireAuth } from '../request-context';
import { FinishedUploads, assetIdOfUpload, removeOlderThan } from '../tus/finished';
import { plainTusHead } from '../tus/http';
import {
  NookUploadStore,
  checksumAlgorithms,
  tusDirectory,
  tusFinishedDirectory,
  type ChecksumAlgorithm,
  type ExpectedChecksum,
  type UploadQuota,
} from '../tus/upload-store';

export const UPLOADS_PATH = '/api/uploads';

/** Response headers of the request that finishes an upload: what became of it. */
export const ASSET_HEADERS = ['Nook-Asset-Id', 'Nook-Asset-Sha256', 'Nook-Duplicate'];

const assetHeaders = ({ asset, duplicate }: Pick<UploadResult, 'asset' | 'duplicate'>) => ({
  'Nook-Asset-Id': asset.id,
  'Nook-Asset-Sha256': asset.sha256,
  'Nook-Duplicate': String(duplicate),
});

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
  deps: Pick<ServerDeps, 'orm' | 'dataDir' | 'queue' | 'maxUploadBytes' | 'uploadExpiryMs' | 'logger'>,
) {
  const { orm, dataDir, queue, maxUploadBytes, uploadExpiryMs, logger } = deps;
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
  const finished = new FinishedUploads(tusFinishedDirectory(dataDir.tmp));

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

  /** Completions under way in this process, so a replay and a live request for one upload share one. */
  const completions = new Map<string, Promise<UploadResult>>();
  /** Uploads a PATCH of this process is writing or finishing: a HEAD meanwhile is tus's to answer. */
  const patching = new Map<string, number>();

  /**
   * Hash (unless it was hashed on the way in), dedup, link into the library, write the row, queue its
   * metadata job. Idempotent: the row gets an id derived from the upload's, so completing again after a
   * crash (the bytes still in tmp/tus) finds that row rather than making another.
   */
  const ingest = async (upload: Upload, user: User, em: EntityManager): Promise<UploadResult> => {
    const made = await em.findOne(Asset, { id: assetIdOfUpload(upload.id) });
    if (made) return { asset: made, duplicate: false, restored: false };
    const size = upload.size ?? upload.offset;
    const storedPath = upload.storage!.path;
    const sha256 = store.takeSha256(upload.id, size) ?? (await hashFile(storedPath)).sha256;
    // A second name for the bytes: ingestUpload consumes it, while tus still answers for the upload
    // until the response is out (POST_FINISH removes it). Named after the upload, so a completion
    // replayed after a crash replaces the one a cut completion left rather than adding another.
    const tempPath = path.join(dataDir.tmp, `${upload.id}.part`);
    await rm(tempPath, { force: true });
    await link(storedPath, tempPath);
    try {
      return await new AssetService(em, dataDir, queue).ingestUpload(
        user,
        await new UserService(em).uploadLibraryOf(user),
        { tempPath, sha256, size },
        upload.metadata?.filename ?? upload.metadata?.name ?? 'upload',
        { assetId: assetIdOfUpload(upload.id) },
      );
    } catch (error) {
      await rm(tempPath, { force: true });
      throw error;
    }
  };

  /** Completes `upload` and records its answer, so a HEAD after its bytes are gone still gets it. */
  const complete = (upload: Upload, user: User, em: EntityManager): Promise<UploadResult> => {
    let running = completions.get(upload.id);
    if (!running) {
      running = ingest(upload, user, em)
        .then(async (result) => {
          // The answer says "stored": its row, its name in the library and its bytes must outlive a
          // power cut (the bytes were flushed with the last chunk, unless resumed after a restart).
          const library = await result.asset.library.load();
          if (!library) throw new Error(`asset ${result.asset.id} has no library`);
          await persistStored(dataDir, [
            path.join(dataDir.resolveLibraryRoot(library.rootPath), ...result.asset.path.split('/')),
          ]);
          await finished.put(upload.id, {
            size: upload.size ?? upload.offset,
            headers: assetHeaders(result),
          });
          return result;
        })
        .finally(() => completions.delete(upload.id));
      completions.set(upload.id, running);
    }
    return running;
  };

  /**
   * A refused upload (a domain error) is removed: left in place it would answer HEAD as complete. Any
   * other failure leaves the bytes, so a HEAD, a PATCH or the next start completes it again.
   */
  const dropIfRefused = async (id: string, error: unknown) => {
    if (error instanceof NookError) await store.remove(id).catch(() => undefined);
  };

  const finish = async (upload: Upload) => {
    const { user, em, quota } = context();
    try {
      const { asset, duplicate, restored } = await complete(upload, user, em);
      // What this request reserved is not stored after all when nothing new was.
      if (duplicate || restored) quota?.reservation.release(upload.size ?? upload.offset);
      return { headers: assetHeaders({ asset, duplicate }) };
    } catch (error) {
      await dropIfRefused(upload.id, error);
      throw toTusError(error);
    }
  };

  /**
   * Uploads whose bytes all arrived but which never became an asset (the process died during the last
   * PATCH; a tus client counts them done): completed at start and hourly. One owner's refusal, or an
   * owner gone, removes that upload; a failure of ours leaves it for the next round.
   */
  const replayComplete = async (): Promise<number> => {
    let completed = 0;
    for (const upload of await store.complete()) {
      if (patching.has(upload.id) || completions.has(upload.id)) continue;
      const em = orm.em.fork();
      const user = await em.findOne(User, { id: upload.id.split('.')[0]! });
      if (!user) {
        await store.remove(upload.id).catch(() => undefined);
        continue;
      }
      try {
        const { asset, duplicate } = await complete(upload, user, em);
        await store.remove(upload.id).catch(() => undefined);
        completed++;
        log.info(
          { id: upload.id, assetId: asset.id, duplicate },
          'finished upload completed after a restart',
        );
      } catch (error) {
        await dropIfRefused(upload.id, error);
        log.warn({ err: error, id: upload.id }, 'completing a finished upload failed');
      }
    }
    return completed;
  };

  /**
   * HEAD or PATCH of an upload that is complete here, answered with its asset headers: from its record
   * when its bytes are gone, or by completing it now when they are all here and no PATCH of this
   * process is on it. Returns false when tus should answer instead.
   */
  const answerFinished = async (
    request: FastifyRequest,
    reply: FastifyReply,
    user: User,
    id: string,
  ): Promise<boolean> => {
    // A PATCH bringing bytes is tus's own case; only an empty one can ask about a complete upload,
    // and the hot path of chunks pays no lookups for it.
    const emptyPatch = request.method === 'PATCH' && request.headers['content-length'] === '0';
    if ((request.method !== 'HEAD' && !emptyPatch) || patching.has(id)) return false;
    let record = await finished.get(id);
    const upload = record ? null : await store.getUpload(id).catch(() => null);
    // Gone between the two looks: a completion (at start, or a PATCH) finished it meanwhile.
    if (!record && !upload) record = await finished.get(id);
    if (upload) {
      if (upload.size === undefined || upload.offset !== upload.size) return false;
      // A PATCH at another offset is tus's 409 to give.
      if (request.method === 'PATCH' && Number(request.headers['upload-offset']) !== upload.size)
        return false;
      try {
        await complete(upload, user, request.em);
      } catch (error) {
        await dropIfRefused(id, error);
        throw error;
      }
      record = (await finished.get(id))!;
      await store.remove(id).catch(() => undefined);
      log.info({ id, assetId: record.headers['Nook-Asset-Id'] }, 'finished upload completed on request');
    }
    if (!record) return false;
    if (request.method === 'PATCH' && Number(request.headers['upload-offset']) !== record.size)
      throw new NookError('CONFLICT', `upload is complete at offset ${record.size}`);
    void reply
      .code(request.method === 'HEAD' ? 200 : 204)
      .headers({
        'Tus-Resumable': '1.0.0',
        'Cache-Control': 'no-store',
        'Upload-Offset': String(record.size),
        ...(request.method === 'HEAD' && { 'Upload-Length': String(record.size) }),
        ...record.headers,
      })
      .send();
    return true;
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

  /**
   * At start and hourly: complete what was cut short, then drop what is older than the upload expiry —
   * unfinished tus uploads, records of finished ones, and temp files (`tmp/*.part`) of multipart
   * uploads and completions cut by a crash. Returns what it completed and removed.
   */
  const housekeeping = async () => {
    let uploadsCompleted = 0;
    let tempFilesRemoved = 0;
    const steps = {
      'completing finished uploads': async () => {
        uploadsCompleted += await replayComplete();
      },
      'expiring unfinished uploads': async () => {
        const count = (await tus.cleanUpExpiredUploads()) + (await store.tidy(uploadExpiryMs));
        if (count > 0) log.info({ count }, 'expired unfinished uploads removed');
      },
      'removing old upload records and temp files': async () => {
        const records = await finished.expire(uploadExpiryMs);
        const parts = await removeOlderThan(dataDir.tmp, uploadExpiryMs, (name) => name.endsWith('.part'));
        tempFilesRemoved += parts;
        if (records + parts > 0) log.info({ records, parts }, 'old upload records and temp files removed');
      },
    };
    for (const [step, run] of Object.entries(steps))
      await run().catch((error: unknown) => log.warn({ err: error }, `${step} failed`));
    return { uploadsCompleted, tempFilesRemoved };
  };
  // Before any upload is taken: a file a dead process linked into library/ but never recorded would
  // hold its name, and the retry would be stored beside it as `name (1).jpg`; an upload half created
  // or half removed would be listed, counted or answered as if whole.
  const undone = await recoverPlacements(orm.em.fork(), dataDir).catch((error: unknown) => {
    log.warn({ err: error }, 'undoing uploads cut by a crash failed');
    return 0;
  });
  if (undone > 0) log.info({ files: undone }, 'files of uploads cut by a crash removed from the library');
  const tidied = await store.tidy(0).catch((error: unknown) => {
    log.warn({ err: error }, 'tidying resumable uploads cut by a crash failed');
    return 0;
  });
  if (tidied > 0) log.info({ uploads: tidied }, 'resumable uploads cut by a crash mid-way tidied');
  const startUp = housekeeping().then(({ uploadsCompleted, tempFilesRemoved }) =>
    recordRecovery(queue, { uploadsCompleted, tempFilesRemoved: tempFilesRemoved + undone + tidied }, log),
  );
  const timer = setInterval(housekeeping, Math.min(uploadExpiryMs, 3600_000)).unref();
  // The start-up pass uses the database and the queue, which close after the server.
  app.addHook('onClose', async () => {
    clearInterval(timer);
    await startUp;
  });

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
    if (id !== undefined && (await answerFinished(request, reply, user, id))) return;
    const quota =
      request.method === 'POST' || request.method === 'PATCH' ? await openQuota(user, request.em) : undefined;
    const patched = request.method === 'PATCH' ? id : undefined;
    if (patched) patching.set(patched, (patching.get(patched) ?? 0) + 1);
    reply.hijack();
    plainTusHead(reply.raw);
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
      if (patched) {
        const left = patching.get(patched)! - 1;
        if (left > 0) patching.set(patched, left);
        else patching.delete(patched);
      }
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
