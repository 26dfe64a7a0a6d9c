// Nook as an installed app: keeps the app shell and the signed-in person's recently seen thumbnails for
// when the server cannot be reached, and takes files shared to Nook from the phone's share sheet.
// Originals, previews and API answers are never stored here: they carry more than a thumbnail shows.
/// <reference types="@sveltejs/kit" />
/// <reference no-default-lib="true"/>
/// <reference lib="esnext" />
/// <reference lib="webworker" />
import { build, files, version } from '$service-worker';

const sw = self as unknown as ServiceWorkerGlobalScope;

const SHELL = `nook-shell-${version}`;
const THUMBS = 'nook-thumbs';
const SESSION = 'nook-session';
/** Where the id of the person whose thumbnails THUMBS holds is kept (a worker may be stopped at any time). */
const OWNER_KEY = '/__nook/thumbnails-owner';
const MAX_THUMBS = 2000;
let storedSinceTrim = 0;
const shellFiles = new Set([...build, ...files]);

sw.addEventListener('install', (event) => {
  event.waitUntil(
    caches
      .open(SHELL)
      .then((cache) => cache.addAll([...shellFiles, '/index.html']))
      .then(() => sw.skipWaiting()),
  );
});

sw.addEventListener('activate', (event) => {
  event.waitUntil(
    caches
      .keys()
      .then((keys) =>
        Promise.all(
          keys
            .filter((key) => key.startsWith('nook-shell-') && key !== SHELL)
            .map((key) => caches.delete(key)),
        ),
      )
      .then(() => sw.clients.claim()),
  );
});

// Read once per worker start; every thumbnail the grid draws asks.
let knownOwner: Promise<string | null> | null = null;
function owner(): Promise<string | null> {
  knownOwner ??= caches
    .open(SESSION)
    .then((cache) => cache.match(OWNER_KEY))
    .then((stored) => (stored ? stored.text() : null));
  return knownOwner;
}

/** The page says who is signed in (null: nobody); another person's thumbnails are dropped first. */
async function setOwner(userId: string | null): Promise<void> {
  if ((await owner()) === userId) return;
  knownOwner = Promise.resolve(userId);
  await caches.delete(THUMBS);
  const session = await caches.open(SESSION);
  if (userId === null) await session.delete(OWNER_KEY);
  else await session.put(OWNER_KEY, new Response(userId));
}

sw.addEventListener('message', (event) => {
  const data = event.data as { type?: string; userId?: unknown } | null;
  if (data?.type === 'session')
    event.waitUntil(setOwner(typeof data.userId === 'string' ? data.userId : null));
});

function isThumbnail(url: URL): boolean {
  return (
    /^\/api\/assets\/[0-9a-f-]+\/thumbnail$/.test(url.pathname) && url.searchParams.get('size') === 'thumb'
  );
}

/**
 * The server answers first (it still decides who may see what); a thumbnail it served is kept for
 * the person signed in, and shown from here only when the server cannot be reached.
 */
async function thumbnail(event: FetchEvent): Promise<Response> {
  const { request } = event;
  try {
    const response = await fetch(request);
    // Stored after the page has its answer, so keeping it never slows the grid down.
    if (response.ok) event.waitUntil(keep(request, response.clone()));
    return response;
  } catch (error) {
    const kept = (await owner()) !== null ? await (await caches.open(THUMBS)).match(request) : undefined;
    if (kept) return kept;
    throw error;
  }
}

async function keep(request: Request, response: Response): Promise<void> {
  if ((await owner()) === null) return;
  const cache = await caches.open(THUMBS);
  await cache.put(request, response);
  // Listing the cache costs more than storing one entry, so the oldest go in batches.
  if (++storedSinceTrim < 100) return;
  storedSinceTrim = 0;
  const keys = await cache.keys();
  // Oldest first: keys come back in the order they were stored.
  await Promise.all(keys.slice(0, Math.max(0, keys.length - MAX_THUMBS)).map((key) => cache.delete(key)));
}

/** Files shared to Nook go through the ordinary upload route with the browser's session. */
async function shareToNook(request: Request): Promise<Response> {
  const form = await request.formData();
  const body = new FormData();
  for (const file of form.getAll('file')) if (file instanceof File) body.append('file', file, file.name);
  if (!body.has('file')) return Response.redirect('/', 303);
  const response = await fetch('/api/assets', { method: 'POST', body, credentials: 'same-origin' });
  if (response.status === 401) return Response.redirect('/login', 303);
  if (!response.ok) {
    const { message } = (await response.json().catch(() => ({}))) as { message?: string };
    return new Response(`Nook could not take the shared files: ${message ?? response.statusText}`, {
      status: response.status,
      headers: { 'content-type': 'text/plain; charset=utf-8' },
    });
  }
  const uploaded = (await response.json()) as unknown[];
  return Response.redirect(`/?shared=${uploaded.length}`, 303);
}

sw.addEventListener('fetch', (event) => {
  const { request } = event;
  const url = new URL(request.url);
  if (url.origin !== sw.location.origin) return;
  if (request.method === 'POST' && url.pathname === '/share-target') {
    event.respondWith(shareToNook(request));
    return;
  }
  if (request.method !== 'GET') return;
  if (shellFiles.has(url.pathname)) {
    event.respondWith(caches.match(url.pathname).then((cached) => cached ?? fetch(request)));
  } else if (isThumbnail(url)) {
    event.respondWith(thumbnail(event));
  } else if (request.mode === 'navigate') {
    // Every page is the same shell; offline it still opens and says the server cannot be reached.
    event.respondWith(
      fetch(request).catch(async () => (await caches.match('/index.html')) ?? Response.error()),
    );
  }
});
