// Sending files: originals with Range and conditional GET, derived images with immutable caching.
import { constants, createReadStream } from 'node:fs';
import { open, realpath, stat, type FileHandle } from 'node:fs/promises';
import { NookError, type Asset, type DataDir, type DerivedVariant } from '@nook/core';
import { create as contentDisposition } from 'content-disposition';
import type { FastifyReply, FastifyRequest } from 'fastify';
import parseRange from 'range-parser';

/**
 * Measured on loopback with curl (bench/): Node's default 64 KiB reads stream a file at about half
 * nginx's sendfile rate, 1 MiB reads at about 0.7×, 4 MiB reads at about 0.8×; larger gain little.
 */
const READ_CHUNK_BYTES = 4 * 1024 * 1024;

function isFresh(request: FastifyRequest, etag: string): boolean {
  const header = request.headers['if-none-match'];
  return header !== undefined && header.split(',').some((tag) => tag.trim() === etag || tag.trim() === '*');
}

/**
 * Opens a file whose real path was checked, and checks again what was opened: between the check and
 * the open, someone who can write in a watched folder could swap the file, or a folder on its way,
 * for a link to Nook's data dir. Linux tells what a descriptor is (/proc/self/fd); elsewhere the last
 * component at least must not have become a link.
 */
export async function openChecked(checkedPath: string): Promise<FileHandle> {
  let handle: FileHandle;
  try {
    handle = await open(checkedPath, constants.O_RDONLY | constants.O_NOFOLLOW);
  } catch (error) {
    const code = (error as NodeJS.ErrnoException).code;
    if (code === 'ENOENT') throw new NookError('NOT_FOUND', 'the original file is no longer on disk');
    if (code === 'ELOOP') throw new NookError('FORBIDDEN', 'the original lies outside its library');
    throw error;
  }
  const opened = await realpath(`/proc/self/fd/${handle.fd}`).catch(() => checkedPath);
  if (opened !== checkedPath) {
    await handle.close();
    throw new NookError('FORBIDDEN', 'the original lies outside its library');
  }
  return handle;
}

/**
 * The original as an attachment or inline. Never rendered as a page of ours: nosniff, and HTML or
 * SVG (which can carry scripts) always goes out as a download. `filePath` is the checked real path
 * (resolveOriginalPath); what is sent is read from the descriptor opened and checked here.
 */
export async function sendOriginal(
  request: FastifyRequest,
  reply: FastifyReply,
  asset: Asset,
  filePath: string,
): Promise<FastifyReply> {
  const handle = await openChecked(filePath);
  let streaming = false;
  try {
    const info = await handle.stat();
    if (!info.isFile()) throw new NookError('NOT_FOUND', 'the original file is no longer on disk');
    const etag = `"${asset.sha256}"`;
    reply
      .header('Accept-Ranges', 'bytes')
      .header('ETag', etag)
      .header('Last-Modified', info.mtime.toUTCString())
      .header('Cache-Control', 'private, no-cache')
      .header('X-Content-Type-Options', 'nosniff');
    if (isFresh(request, etag)) return reply.code(304).send();

    const scriptable = /html|xml|svg|javascript/i.test(asset.mime);
    reply
      .header('Content-Type', scriptable ? 'application/octet-stream' : asset.mime)
      .header(
        'Content-Disposition',
        contentDisposition(asset.name, { type: scriptable ? 'attachment' : 'inline' }),
      )
      .header('Content-Security-Policy', "default-src 'none'; sandbox");

    const rangeHeader = request.headers.range;
    const ifRange = request.headers['if-range'];
    if (rangeHeader !== undefined && (ifRange === undefined || ifRange === etag)) {
      const ranges = parseRange(info.size, rangeHeader, { combine: true });
      if (ranges === -1) {
        return reply
          .code(416)
          .header('Content-Range', `bytes */${info.size}`)
          .removeHeader('Content-Disposition')
          .type('application/json')
          .send({ error: 'range_not_satisfiable', message: `the file has ${info.size} bytes` });
      }
      // Several ranges at once would need multipart/byteranges; answering with the whole file is allowed.
      if (ranges !== -2 && ranges.type === 'bytes' && ranges.length === 1) {
        const { start, end } = ranges[0]!;
        streaming = true;
        return reply
          .code(206)
          .header('Content-Range', `bytes ${start}-${end}/${info.size}`)
          .header('Content-Length', end - start + 1)
          .send(handle.createReadStream({ start, end, highWaterMark: READ_CHUNK_BYTES }));
      }
    }
    streaming = true;
    return reply
      .header('Content-Length', info.size)
      .send(handle.createReadStream({ highWaterMark: READ_CHUNK_BYTES }));
  } finally {
    // A stream closes its descriptor when it ends or is destroyed; every other answer closes it here.
    if (!streaming) await handle.close();
  }
}

/** Derived files are keyed by content: a URL carrying the content version never changes meaning. */
export async function sendDerived(
  request: FastifyRequest,
  reply: FastifyReply,
  asset: Asset,
  dataDir: DataDir,
  variant: DerivedVariant,
): Promise<FastifyReply> {
  const filePath = dataDir.derivedPath(asset.sha256, variant);
  const info = asset.status === 'ready' ? await stat(filePath).catch(() => null) : null;
  if (!info) {
    const reason =
      asset.status === 'failed'
        ? `no thumbnail: ${asset.error ?? 'processing failed'}`
        : 'the thumbnail is not ready yet';
    throw new NookError('NOT_FOUND', reason);
  }
  const etag = `"${asset.sha256}-${variant}"`;
  reply
    .header('ETag', etag)
    .header('Cache-Control', 'private, max-age=31536000, immutable')
    .header('Content-Type', variant === 'thumb' ? 'image/webp' : 'image/jpeg')
    .header('X-Content-Type-Options', 'nosniff');
  if (isFresh(request, etag)) return reply.code(304).send();
  return reply.header('Content-Length', info.size).send(createReadStream(filePath));
}

export const idParams = {
  type: 'object',
  required: ['id'],
  properties: { id: { type: 'string', format: 'uuid' } },
} as const;

export const variantQuery = {
  type: 'object',
  properties: {
    size: { type: 'string', enum: ['thumb', 'preview'], default: 'thumb' },
    v: { type: 'string', maxLength: 64 },
  },
  additionalProperties: false,
} as const;
