// Asset routes for signed-in users: multipart upload, originals, thumbnails.
import { randomBytes } from 'node:crypto';
import { rm } from 'node:fs/promises';
import path from 'node:path';
import {
  AssetService,
  NookError,
  TooLargeError,
  UserService,
  persistStored,
  receiveToTemp,
  uploadReservations,
  Asset,
} from '@nook/core';
import type { FastifyInstance, FastifyRequest } from 'fastify';
import { sendArchive } from '../archive';
import type { ServerDeps } from '../deps';
import { idParams, sendDerived, sendOriginal, variantQuery } from '../files';
import { requireAuth } from '../request-context';
import { pendingUploadBytes, tusDirectory } from '../tus/upload-store';

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

const ticketParams = {
  type: 'object',
  required: ['ticket'],
  properties: { ticket: { type: 'string', pattern: '^[0-9a-f]{32}$' } },
} as const;

/**
 * The multipart parser (busboy) reports a body it cannot parse — no boundary, a body cut short, a
 * broken part header — as plain errors; file-system errors carry a syscall, ours are NookErrors.
 */
function isMalformedMultipart(error: unknown): boolean {
  return (
    error instanceof Error &&
    !(error instanceof NookError) &&
    !('syscall' in error) &&
    /multipart|boundary|part header|unexpected end/i.test(error.message)
  );
}

/** Long enough for the browser to follow the link; a ticket is good for one download. */
const TICKET_LIFETIME_MS = 2 * 60 * 1000;
/** Each ticket holds up to 1000 ids; a household prepares a few downloads at a time. */
const MAX_TICKETS_PER_USER = 20;
const MAX_TICKETS = 200;

export async function assetRoutes(
  app: FastifyInstance,
  deps: Pick<ServerDeps, 'dataDir' | 'queue' | 'maxUploadBytes' | 'accelRedirect'>,
) {
  const { dataDir, queue, maxUploadBytes, accelRedirect } = deps;
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

  // Any other body reaches the upload route unparsed, so it is refused there with a 400 and a message
  // rather than a bare 415 from Fastify.
  app.addContentTypeParser('*', (_request, _payload, done) => done(null));

  app.post('/api/assets', { config: { access: 'upload' } }, async (request, reply) => {
    const { user } = requireAuth(request, 'upload');
    if (!request.isMultipart()) {
      throw new NookError('BAD_REQUEST', 'expected a multipart/form-data body with one or more files');
    }
    // RFC 2046 allows 1–70 characters; busboy fails on longer ones with an error of its own.
    const boundary = /boundary=(?:"([^"]*)"|([^;\s]*))/i.exec(request.headers['content-type'] ?? '');
    const boundaryLength = (boundary?.[1] ?? boundary?.[2] ?? '').length;
    if (boundaryLength < 1 || boundaryLength > 70) {
      reply.header('connection', 'close');
      throw new NookError('BAD_REQUEST', 'the multipart boundary must be 1 to 70 characters long');
    }
    const assets = service(request);
    const users = new UserService(request.em);
    // Unfinished tus uploads count as stored; read before the database, as the tus route does.
    const reservation = await uploadReservations.open(user.id, user.quotaBytes, async () => {
      const pending = await pendingUploadBytes(tusDirectory(dataDir.tmp), user.id);
      return pending + (await users.usedBytes(user.id));
    });
    const uploaded: UploadedItem[] = [];
    const stored: string[] = [];
    let current = '';
    try {
      // Room for not even one byte: refused before the body is read.
      reservation.check(1, () => `storage quota of ${user.quotaBytes} bytes is used up`);
      const library = await users.uploadLibraryOf(user);
      const libraryRoot = dataDir.resolveLibraryRoot(library.rootPath);
      // A part's size is known only once it has arrived, so its bytes are reserved as they come.
      const reserve = (bytes: number) =>
        reservation.grow(
          bytes,
          ({ stored, others, held }) =>
            `storage quota exceeded: ${stored} of ${user.quotaBytes} bytes used` +
            (others ? `, ${others} in other uploads under way` : '') +
            `; ${current} passed it at ${held} bytes`,
        );
      for await (const part of request.parts({ limits: { fileSize: maxUploadBytes } })) {
        if (part.type !== 'file') continue;
        current = part.filename || 'upload';
        const received = await receiveToTemp(part.file, dataDir.tmp, maxUploadBytes, reserve);
        // At the limit busboy ends the stream early and only flags it, so the file is cut, not whole.
        if (part.file.truncated) {
          await rm(received.tempPath, { force: true });
          throw new TooLargeError(maxUploadBytes);
        }
        const { asset, duplicate, restored } = await assets.ingestUpload(user, library, received, current);
        // A duplicate stores nothing; a restored original was counted all along.
        if (duplicate || restored) reservation.release(received.size);
        else reservation.settle(received.size);
        uploaded.push({ id: asset.id, sha256: asset.sha256, duplicate, name: asset.name, size: asset.size });
        stored.push(path.join(libraryRoot, ...asset.path.split('/')));
      }
      // What the answer calls stored must survive a power cut, not only a killed process.
      await persistStored(dataDir, stored);
    } catch (error) {
      // The rest of a refused body is never read: the connection closes with the answer instead of
      // staying open until the server's request timeout.
      if (!request.raw.complete) reply.header('connection', 'close');
      if (error instanceof TooLargeError || (error as { code?: string }).code === 'FST_REQ_FILE_TOO_LARGE') {
        throw new NookError(
          'PAYLOAD_TOO_LARGE',
          `${current} is larger than the upload limit of ${maxUploadBytes} bytes`,
        );
      }
      if (isMalformedMultipart(error)) {
        throw new NookError(
          'BAD_REQUEST',
          `the upload is not valid multipart/form-data: ${(error as Error).message}`,
        );
      }
      throw error;
    } finally {
      reservation.close();
    }
    if (uploaded.length === 0) throw new NookError('BAD_REQUEST', 'the request contained no files');
    return reply.code(201).send(uploaded);
  });

  app.get<{ Params: { id: string } }>(
    '/api/assets/:id/original',
    { schema: { params: idParams } },
    async (request, reply) => {
      const { asset, assets } = await ownedAsset(request);
      return sendOriginal(request, reply, asset, await assets.resolveOriginal(asset), accelRedirect);
    },
  );

  app.get<{ Params: { id: string }; Querystring: { size: 'thumb' | 'preview' } }>(
    '/api/assets/:id/thumbnail',
    { schema: { params: idParams, querystring: variantQuery } },
    async (request, reply) => {
      const { user } = requireAuth(request, 'read');
      // The trash shows what it holds, so a trashed asset keeps its thumbnails until it is emptied;
      // the original stays out of reach there (restore it first).
      const asset = await request.em.findOne(Asset, {
        id: request.params.id,
        owner: user.id,
        purgedAt: null,
        $or: [{ deletedAt: null, offlineAt: null }, { deletedAt: { $ne: null } }],
      });
      if (!asset) throw new NookError('NOT_FOUND', 'asset not found');
      return sendDerived(request, reply, asset, dataDir, request.query.size);
    },
  );

  const archiveOf = async (request: FastifyRequest, ownerId: string, ids: string[]) => {
    const assets = service(request);
    const found = await assets.findOwnedMany(ids, ownerId);
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
    return { members, ids: found.map((asset) => asset.id), fileName: `Nook ${day} (${count}).zip` };
  };

  /** A zip of many originals, streamed as it is written. */
  app.post<{ Body: { ids: string[] } }>(
    '/api/assets/archive',
    { schema: { body: archiveBody } },
    async (request, reply) => {
      const { user } = requireAuth(request, 'read');
      const { members, fileName } = await archiveOf(request, user.id, request.body.ids);
      return sendArchive(reply, members, fileName);
    },
  );

  // A browser saves a download it navigates to, with its own progress, however large; a POST
  // cannot be followed that way without leaving the page on an error. So the page asks for a
  // ticket (errors come back to it), then follows a plain link.
  const tickets = new Map<string, { ownerId: string; ids: string[]; expiresAt: number }>();
  const forgetExpired = () => {
    const now = Date.now();
    for (const [key, ticket] of tickets) if (ticket.expiresAt <= now) tickets.delete(key);
  };

  app.post<{ Body: { ids: string[] } }>(
    '/api/assets/archive/tickets',
    { schema: { body: archiveBody } },
    async (request, reply) => {
      const { user } = requireAuth(request, 'read');
      // Checked now, so the page hears of it: following a link to an error would leave the app.
      const { members, ids } = await archiveOf(request, user.id, request.body.ids);
      if (members.every((member) => member.filePath === null))
        throw new NookError('NOT_FOUND', 'none of these originals is on disk');
      forgetExpired();
      const own = [...tickets.values()].filter((ticket) => ticket.ownerId === user.id).length;
      if (own >= MAX_TICKETS_PER_USER || tickets.size >= MAX_TICKETS)
        throw new NookError('TOO_MANY_REQUESTS', 'too many downloads are being prepared; try again shortly');
      const ticket = randomBytes(16).toString('hex');
      tickets.set(ticket, { ownerId: user.id, ids, expiresAt: Date.now() + TICKET_LIFETIME_MS });
      return reply.code(201).send({ url: `/api/assets/archive/${ticket}`, count: ids.length });
    },
  );

  app.get<{ Params: { ticket: string } }>(
    '/api/assets/archive/:ticket',
    { schema: { params: ticketParams } },
    async (request, reply) => {
      const { user } = requireAuth(request, 'read');
      const ticket = tickets.get(request.params.ticket);
      if (!ticket || ticket.ownerId !== user.id || ticket.expiresAt <= Date.now())
        throw new NookError('NOT_FOUND', 'this download link has expired; start the download again');
      tickets.delete(request.params.ticket);
      forgetExpired();
      const { members, fileName } = await archiveOf(request, user.id, ticket.ids);
      return sendArchive(reply, members, fileName);
    },
  );
}
