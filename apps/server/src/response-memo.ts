// The hottest reads, answered from what was sent last time while nothing has committed since.
//
// The dashboard asks the same questions again and again (the first timeline page on every visit, the
// month counts, polling while uploads run); behind each answer sit the session lookup, tRPC, zod and
// JSON of a hundred rows. SQLite's data_version moves with every commit of any connection (server,
// workers, CLI), so an answer kept under the version it was computed at is exact, never stale.
import { promisify } from 'node:util';
import { gzip } from 'node:zlib';
import { negotiate } from '@fastify/accept-negotiator';
import { listInput, toFilters } from '@nook/api';
import { authStandsUntil, authorize, type Authenticated, type LibraryReads, type ReadDb } from '@nook/core';
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import fp from 'fastify-plugin';
import { SESSION_COOKIE } from './request-context';

/**
 * Queries whose answer depends on the metadata alone, and for how long an unchanged answer stands.
 * stats.summary also reports disks and queues, which change without a commit: a few seconds.
 */
const memoizable = new Map<string, number>([
  ['assets.list', Infinity],
  ['assets.buckets', Infinity],
  // Its own cache may answer up to a minute behind (see LibraryReads.cameras); so may this.
  ['assets.cameras', 60_000],
  ['assets.get', Infinity],
  ['search.query', Infinity],
  ['folders.list', Infinity],
  ['albums.list', Infinity],
  ['stats.summary', 2000],
]);

/** A larger answer is rare (a full page is ~60 KB) and would crowd out the many small ones. */
const MAX_BODY_BYTES = 1024 * 1024;
/** All kept answers together: a few hundred timeline pages, a small share of a 2 GB Pi's memory. */
const MAX_TOTAL_SIZE = 16 * 1024 * 1024;
/** However small the answers, this many at most; and a URL longer than any page makes is not kept. */
const MAX_ENTRIES = 5000;
const MAX_URL_CHARS = 4096;

interface Entry {
  version: number;
  at: number;
  maxAgeMs: number;
  /** The credential authenticates unchanged until then (see authStandsUntil). */
  standsUntil: number;
  type: string;
  vary: string;
  /**
   * As bytes: the text is encoded once either way, and bytes live outside V8's heap, so thousands
   * of kept pages do not make every major collection walk them.
   */
  body: Buffer;
  /**
   * The body gzipped, made at the first hit that accepts it: a timeline page shrinks ~5× (its
   * URLs repeat), which is what a phone on Wi-Fi waits for and what the server spends writing.
   * Made on libuv's threads: gzipSync held the event loop ~1 ms per page, a stall for every
   * request queued behind it.
   */
  gzipped?: Promise<Buffer>;
  gzippedBytes?: number;
}

const gzipAsync = promisify(gzip);

const sizeOf = (key: string, entry: Entry) => key.length + entry.body.length + (entry.gzippedBytes ?? 0);
const acceptsGzip = (request: FastifyRequest) =>
  negotiate(request.headers['accept-encoding'] ?? '', ['gzip']) === 'gzip';

interface Pending {
  key: string;
  version: number;
  maxAgeMs: number;
}

/** As tRPC labels its answers, with the gzip a memo hit may carry. */
const JSON_TYPE = 'application/json; charset=utf-8';
const JSON_VARY = 'trpc-accept, accept, accept-encoding';

/**
 * A timeline page computed without tRPC, for `GET /trpc/assets.list?input=…` alone: SQLite writes the
 * items' JSON (LibraryReads.timelineJson), skipping the row objects, the summaries, JSON.stringify and
 * tRPC's web Request and Response around them — what every timeline page costs while something
 * commits (uploads, jobs, a scan) and no memo stands. The same input schema and the same `authorize`
 * decide; anything unusual (no or bad input, a refusal, a bad cursor, a date SQLite cannot write)
 * goes on to tRPC, which answers it as always.
 */
function timelineAnswer(request: FastifyRequest, reads: LibraryReads): string | null {
  if (request.headers['trpc-accept'] !== undefined) return null;
  const query = request.url.indexOf('?');
  if (request.url.slice(0, query === -1 ? undefined : query) !== '/trpc/assets.list') return null;
  const params = new URLSearchParams(query === -1 ? '' : request.url.slice(query + 1));
  const text = params.get('input');
  if (text === null || [...params.keys()].length !== 1) return null;
  let raw: unknown;
  try {
    raw = JSON.parse(text);
  } catch {
    return null;
  }
  const input = listInput.safeParse(raw);
  if (!input.success) return null;
  let caller: Authenticated;
  try {
    caller = authorize(request.auth, 'read');
    const page = reads.timelineJson({
      ownerId: caller.user.id,
      limit: input.data.limit,
      cursor: input.data.cursor,
      direction: input.data.direction,
      filters: toFilters(input.data.filters),
    });
    return page === null ? null : `{"result":{"data":${page}}}`;
  } catch {
    return null;
  }
}

declare module 'fastify' {
  interface FastifyRequest {
    memo: Pending | null;
  }
}

/** How long the answer to this (possibly batched) GET may stand, or null when any part must run. */
export function memoAgeOf(url: string): number | null {
  if (!url.startsWith('/trpc/')) return null;
  const query = url.indexOf('?');
  let age = Infinity;
  for (const name of url.slice('/trpc/'.length, query === -1 ? undefined : query).split(',')) {
    const procedureAge = memoizable.get(decodeURIComponent(name));
    if (procedureAge === undefined) return null;
    age = Math.min(age, procedureAge);
  }
  return age;
}

/**
 * Who asks, by the credential itself: a hit then needs no session lookup at all, and another
 * session or token, even of the same user, never shares an answer.
 */
function credentialOf(request: FastifyRequest): string | null {
  const header = request.headers.authorization;
  if (header !== undefined) return `header ${header}`;
  const cookie = request.cookies[SESSION_COOKIE];
  return cookie ? `cookie ${cookie}` : null;
}

/**
 * Registered before the request context: a hit is answered before any session lookup or
 * EntityManager. A credential revoked since is a commit, so its answers are gone with the version.
 */
export const responseMemo = fp(
  async (app: FastifyInstance, { readDb, reads }: { readDb: ReadDb; reads: LibraryReads }) => {
    // Insertion order doubles as recency: a hit moves its entry to the end, the oldest go first.
    const entries = new Map<string, Entry>();
    // Bytes of text and of gzip, and the keys: near enough to the memory held.
    let totalSize = 0;
    const forget = (key: string) => {
      const entry = entries.get(key);
      if (entry) totalSize -= sizeOf(key, entry);
      entries.delete(key);
    };
    app.decorateRequest('memo', null);

    app.addHook('onRequest', async (request, reply) => {
      if (request.method !== 'GET') return;
      const maxAgeMs = memoAgeOf(request.url);
      if (maxAgeMs === null) return;
      const credential = credentialOf(request);
      if (credential === null || request.url.length > MAX_URL_CHARS) return;
      // tRPC answers in another format (streamed JSON lines) when asked by this header.
      const key = `${credential}\n${request.headers['trpc-accept'] ?? ''}\n${request.url}`;
      const version = readDb.version();
      const entry = entries.get(key);
      const now = Date.now();
      if (entry && entry.version === version && now - entry.at < entry.maxAgeMs && now < entry.standsUntil) {
        entries.delete(key);
        entries.set(key, entry);
        // As tRPC says of every answer (trpc-http.ts): kept here, never in a browser or a proxy.
        reply
          .header('content-type', entry.type)
          .header('vary', entry.vary)
          .header('cache-control', 'no-store')
          .header('x-nook-memo', 'hit');
        if (!acceptsGzip(request)) return reply.send(entry.body);
        entry.gzipped ??= gzipAsync(entry.body).then((gzipped) => {
          if (entries.get(key) === entry) {
            entry.gzippedBytes = gzipped.length;
            totalSize += gzipped.length;
            while (totalSize > MAX_TOTAL_SIZE) forget(entries.keys().next().value!);
          }
          return gzipped;
        });
        return reply.header('content-encoding', 'gzip').send(await entry.gzipped);
      }
      request.memo = { key, version, maxAgeMs };
    });

    /** Keeps an answer under the data version it was computed at. */
    const keep = (memo: Pending, auth: Authenticated, type: string, vary: string, body: Buffer) => {
      if (body.length > MAX_BODY_BYTES) return;
      forget(memo.key);
      while (
        entries.size > 0 &&
        (totalSize + memo.key.length + body.length > MAX_TOTAL_SIZE || entries.size >= MAX_ENTRIES)
      )
        forget(entries.keys().next().value!);
      totalSize += memo.key.length + body.length;
      entries.set(memo.key, {
        version: memo.version,
        at: Date.now(),
        maxAgeMs: memo.maxAgeMs,
        standsUntil: authStandsUntil(auth),
        type,
        vary,
        body,
      });
    };

    // After the request context's hooks (onRequest), so the caller is known.
    app.addHook('preHandler', async (request, reply: FastifyReply) => {
      const memo = request.memo;
      if (!memo || !request.auth) return;
      const text = timelineAnswer(request, reads);
      if (text === null) return;
      const body = Buffer.from(text);
      request.memo = null;
      keep(memo, request.auth, JSON_TYPE, JSON_VARY, body);
      return reply
        .header('content-type', JSON_TYPE)
        .header('vary', JSON_VARY)
        .header('cache-control', 'no-store')
        .send(body);
    });

    app.addHook('onSend', async (request, reply, payload) => {
      const memo = request.memo;
      if (!memo || !request.auth || !(payload instanceof Response) || payload.status !== 200) return payload;
      if (reply.hasHeader('set-cookie')) return payload;
      // tRPC answers with a fetch Response; read once, it is sent as the text it holds.
      for (const [name, value] of payload.headers) reply.header(name, value);
      const tRPCVary = payload.headers.get('vary');
      const vary = tRPCVary ? `${tRPCVary}, accept-encoding` : 'accept-encoding';
      // As Fastify labels a text body itself, so a hit and a miss carry the same header.
      const type = `${(payload.headers.get('content-type') ?? 'application/json').split(';')[0]}; charset=utf-8`;
      reply.header('content-type', type).header('vary', vary);
      const body = Buffer.from(await payload.text());
      keep(memo, request.auth, type, vary, body);
      return body;
    });
  },
);
