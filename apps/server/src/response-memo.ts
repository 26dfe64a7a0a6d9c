// The hottest reads, answered from what was sent last time while nothing has committed since.
//
// The dashboard asks the same questions again and again (the first timeline page on every visit, the
// month counts, polling while uploads run); behind each answer sit the session lookup, tRPC, zod and
// JSON of a hundred rows. SQLite's data_version moves with every commit of any connection (server,
// workers, CLI), so an answer kept under the version it was computed at is exact, never stale.
import type { ReadDb } from '@nook/core';
import type { FastifyInstance } from 'fastify';
import fp from 'fastify-plugin';

/**
 * Queries whose answer depends on the metadata alone, and for how long an unchanged answer stands.
 * stats.summary also reports disks and queues, which change without a commit: a few seconds.
 */
const memoizable = new Map<string, number>([
  ['assets.list', Infinity],
  ['assets.buckets', Infinity],
  ['assets.cameras', Infinity],
  ['assets.get', Infinity],
  ['search.query', Infinity],
  ['folders.list', Infinity],
  ['albums.list', Infinity],
  ['stats.summary', 2000],
]);

/** A larger answer is rare (a full page is ~60 KB) and would crowd out the many small ones. */
const MAX_BODY_CHARS = 1024 * 1024;
/** All kept answers together: a few hundred timeline pages, a small share of a 2 GB Pi's memory. */
const MAX_TOTAL_CHARS = 16 * 1024 * 1024;

interface Entry {
  version: number;
  at: number;
  maxAgeMs: number;
  type: string;
  body: string;
}

interface Pending {
  key: string;
  version: number;
  maxAgeMs: number;
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

export const responseMemo = fp(async (app: FastifyInstance, { readDb }: { readDb: ReadDb }) => {
  // Insertion order doubles as recency: a hit moves its entry to the end, the oldest go first.
  const entries = new Map<string, Entry>();
  let totalChars = 0;
  const forget = (key: string) => {
    totalChars -= entries.get(key)?.body.length ?? 0;
    entries.delete(key);
  };
  app.decorateRequest('memo', null);

  app.addHook('onRequest', async (request, reply) => {
    if (request.method !== 'GET' || !request.auth) return;
    const maxAgeMs = memoAgeOf(request.url);
    if (maxAgeMs === null) return;
    // Per caller: another user, or a token with other scopes, must never see this answer.
    const key = `${request.auth.user.id}\n${request.auth.apiToken?.id ?? 'session'}\n${request.url}`;
    const version = readDb.version();
    const entry = entries.get(key);
    if (entry && entry.version === version && Date.now() - entry.at < entry.maxAgeMs) {
      entries.delete(key);
      entries.set(key, entry);
      return reply.header('content-type', entry.type).header('x-nook-memo', 'hit').send(entry.body);
    }
    request.memo = { key, version, maxAgeMs };
  });

  app.addHook('onSend', async (request, reply, payload) => {
    const memo = request.memo;
    if (!memo || !(payload instanceof Response) || payload.status !== 200) return payload;
    if (reply.hasHeader('set-cookie')) return payload;
    // tRPC answers with a fetch Response; read once, it is sent as the text it holds.
    for (const [name, value] of payload.headers) reply.header(name, value);
    // As Fastify labels a text body itself, so a hit and a miss carry the same header.
    const type = `${(payload.headers.get('content-type') ?? 'application/json').split(';')[0]}; charset=utf-8`;
    reply.header('content-type', type);
    const body = await payload.text();
    if (body.length <= MAX_BODY_CHARS) {
      forget(memo.key);
      while (entries.size > 0 && totalChars + body.length > MAX_TOTAL_CHARS)
        forget(entries.keys().next().value!);
      totalChars += body.length;
      entries.set(memo.key, {
        version: memo.version,
        at: Date.now(),
        maxAgeMs: memo.maxAgeMs,
        type,
        body,
      });
    }
    return body;
  });
});
