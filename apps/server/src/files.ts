// Sending files: originals with Range and conditional GET, derived images with immutable caching.
import { randomBytes } from 'node:crypto';
import { constants, createReadStream } from 'node:fs';
import { open, realpath, stat, type FileHandle } from 'node:fs/promises';
import { Readable } from 'node:stream';
import { NookError, type Asset, type DataDir, type DerivedVariant } from '@nook/core';
import anyAscii from 'any-ascii';
import { create as contentDisposition } from 'content-disposition';
import type { FastifyReply, FastifyRequest } from 'fastify';
import parseRange from 'range-parser';

/**
 * Measured on loopback with curl (bench/): Node's default 64 KiB reads stream a file at about half
 * nginx's sendfile rate, 1 MiB reads at about 0.7×, 4 MiB reads at about 0.8×; larger gain little.
 */
const READ_CHUNK_BYTES = 4 * 1024 * 1024;

/** More ranges than this in one request is a scan, not a player: answered with the whole file. */
const MAX_RANGES = 64;

const ENTITY_TAG = /(?:W\/)?"[^"]*"/g;

/**
 * If-None-Match compares weakly (RFC 9110 13.1.2): `W/"x"` matches `"x"`. A proxy that compresses or
 * re-encodes may have weakened the tag a client got, and the client must still be told "not modified".
 */
function isFresh(request: FastifyRequest, etag: string): boolean {
  const header = request.headers['if-none-match'];
  if (header === undefined) return false;
  if (header.trim() === '*') return true;
  const opaque = etag.replace(/^W\//, '');
  return (header.match(ENTITY_TAG) ?? []).some((tag) => tag.replace(/^W\//, '') === opaque);
}

/**
 * The `filename` an old client or `curl -OJ` saves under: ASCII by transliteration (é → e, ß → ss,
 * 東京 → DongJing), never a name full of `?`; characters no file system takes become `_`. Browsers
 * read the exact name from `filename*`.
 */
export function asciiFileName(name: string): string {
  const ascii = anyAscii(name)
    .replace(/[^\x20-\x7e]|[\\/:*?"<>|]/g, '_')
    .trim();
  return ascii.replace(/^[._]*$/, '') || 'download';
}

/** Content-Disposition with the exact name and its transliterated fallback. */
export function dispositionOf(name: string, type: 'inline' | 'attachment'): string {
  const plain = /^[\x20-\x7e]*$/.test(name);
  return contentDisposition(name, { type, fallback: plain ? true : asciiFileName(name) });
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
 * What an original may do when a browser shows it by itself (a new tab, a share link's original):
 * nothing of its own. An image or a video becomes the browser's own image or media document, which
 * loads the very same URL as its media (`media-src`/`img-src 'self'`; the video's range requests
 * need the page's own origin to carry the session or share cookie, hence `allow-same-origin`) and
 * styles itself inline (`style-src 'unsafe-inline'`); `allow-downloads` lets its controls save the
 * file. Scripts stay off everywhere: `default-src 'none'` and a sandbox without `allow-scripts`.
 */
const MEDIA_POLICY =
  "default-src 'none'; img-src 'self'; media-src 'self'; style-src 'unsafe-inline'; " +
  'sandbox allow-same-origin allow-downloads';
const OTHER_POLICY = "default-src 'none'; sandbox";

export function originalPolicy(mime: string): string {
  return /^(image|video|audio)\//i.test(mime) ? MEDIA_POLICY : OTHER_POLICY;
}

/** Served content types that a browser could run as a page (SVG and HTML carry scripts). */
const isScriptable = (mime: string) => /html|xml|svg|javascript/i.test(mime);

/**
 * Several ranges in one answer (RFC 9110 14.6), streamed: each part's header, then its bytes read
 * from the opened file as they are sent.
 */
function byteRanges(
  handle: FileHandle,
  ranges: { start: number; end: number }[],
  size: number,
  type: string,
): { boundary: string; length: number; stream: Readable } {
  const boundary = `nook-${randomBytes(12).toString('hex')}`;
  const heads = ranges.map(
    ({ start, end }, index) =>
      `${index === 0 ? '' : '\r\n'}--${boundary}\r\nContent-Type: ${type}\r\n` +
      `Content-Range: bytes ${start}-${end}/${size}\r\n\r\n`,
  );
  const tail = `\r\n--${boundary}--\r\n`;
  const length =
    ranges.reduce((sum, { start, end }) => sum + end - start + 1, 0) +
    heads.reduce((sum, head) => sum + Buffer.byteLength(head), 0) +
    tail.length;
  async function* parts() {
    for (const [index, { start, end }] of ranges.entries()) {
      yield Buffer.from(heads[index]!);
      for (let position = start; position <= end;) {
        const want = Math.min(READ_CHUNK_BYTES, end - position + 1);
        const { bytesRead, buffer } = await handle.read(Buffer.allocUnsafe(want), 0, want, position);
        if (bytesRead === 0) throw new Error('the original shrank while it was being sent');
        yield buffer.subarray(0, bytesRead);
        position += bytesRead;
      }
    }
    yield Buffer.from(tail);
  }
  const stream = Readable.from(parts(), { objectMode: false });
  // Closed however the stream ends: finished, failed, or dropped before it started (a HEAD).
  stream.once('close', () => void handle.close().catch(() => undefined));
  return { boundary, length, stream };
}

/**
 * Where nginx finds `filePath` under its `internal` location `prefix` (X-Accel-Redirect): each
 * component percent-encoded, since nginx decodes the URI before it maps it onto `alias /`.
 */
export function accelRedirectPath(prefix: string, filePath: string): string {
  return prefix + filePath.split('/').slice(1).map(encodeURIComponent).join('/');
}

/**
 * The original as an attachment or inline. Never rendered as a page of ours: nosniff, and HTML or
 * SVG (which can carry scripts) always goes out as a download. `filePath` is the checked real path
 * (resolveOriginalPath); what is sent is read from the descriptor opened and checked here. With
 * `accelRedirect` (behind nginx, NOOK_ACCEL_REDIRECT) the answer only names the file: nginx sends it
 * with sendfile, answering Range and If-Range itself, and refuses a path with a link in it
 * (`disable_symlinks on`), as openChecked does.
 */
export async function sendOriginal(
  request: FastifyRequest,
  reply: FastifyReply,
  asset: Asset,
  filePath: string,
  accelRedirect?: string,
): Promise<FastifyReply> {
  const handle = await openChecked(filePath);
  let streaming = false;
  try {
    const info = await handle.stat();
    if (!info.isFile()) throw new NookError('NOT_FOUND', 'the original file is no longer on disk');
    const etag = `"${asset.sha256}"`;
    reply.header('Cache-Control', 'private, no-cache').header('X-Content-Type-Options', 'nosniff');
    if (isFresh(request, etag)) return reply.code(304).header('ETag', etag).send();

    const scriptable = isScriptable(asset.mime);
    const type = scriptable ? 'application/octet-stream' : asset.mime;
    reply
      .header('Content-Type', type)
      .header('Content-Disposition', dispositionOf(asset.name, scriptable ? 'attachment' : 'inline'))
      .header('Content-Security-Policy', originalPolicy(type));
    // nginx puts its own validators (ETag, Last-Modified) and Accept-Ranges on what it sends.
    if (accelRedirect)
      return reply.header('X-Accel-Redirect', accelRedirectPath(accelRedirect, filePath)).send();
    reply
      .header('Accept-Ranges', 'bytes')
      .header('ETag', etag)
      .header('Last-Modified', info.mtime.toUTCString());

    const rangeHeader = request.headers.range;
    const ifRange = request.headers['if-range'];
    // If-Range compares strongly: a weak tag or a date never matches, and the whole file is sent.
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
      if (ranges !== -2 && ranges.type === 'bytes' && ranges.length === 1) {
        const { start, end } = ranges[0]!;
        streaming = true;
        return reply
          .code(206)
          .header('Content-Range', `bytes ${start}-${end}/${info.size}`)
          .header('Content-Length', end - start + 1)
          .send(handle.createReadStream({ start, end, highWaterMark: READ_CHUNK_BYTES }));
      }
      if (ranges !== -2 && ranges.type === 'bytes' && ranges.length <= MAX_RANGES) {
        const { boundary, length, stream } = byteRanges(handle, ranges, info.size, type);
        streaming = true;
        return reply
          .code(206)
          .header('Content-Type', `multipart/byteranges; boundary=${boundary}`)
          .header('Content-Length', length)
          .send(stream);
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
