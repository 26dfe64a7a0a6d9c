// The authorization matrix over real HTTP: every tRPC procedure and every /api route, walked as an
// anonymous caller, a member, a member's read-only and upload-only tokens and an administrator, aimed
// at another member's things. What each may do is written out here, not read from the code.
import { appRouter } from '@nook/api';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ADMIN, TestClient, setUpAdmin, startTestNook, type TestNook } from '../../../test/harness';
import { makeJpeg } from '../../../test/media';

/**
 * - public: anyone.
 * - own: one's own things; a read token may query, only a session (or an admin token) may change.
 * - upload: like own, and an upload token may call its mutation.
 * - session: a signed-in browser session only, never a token.
 * - admin: administrators only (their read token may query).
 * - adminPath: administrators only, and no read token: these look at the server's disks.
 */
type Access = 'public' | 'own' | 'upload' | 'session' | 'admin' | 'adminPath';

const ACCESS: Record<string, Access> = {
  'auth.status': 'public',
  'auth.setup': 'public',
  'auth.login': 'public',
  'auth.me': 'own',
  'auth.logout': 'session',
  'auth.logoutEverywhere': 'session',
  'auth.changePassword': 'session',
  'auth.updateProfile': 'session',
  'auth.sessions': 'session',
  'auth.revokeSession': 'session',
  'auth.tokens': 'session',
  'auth.createToken': 'session',
  'auth.revokeToken': 'session',
  'assets.list': 'own',
  'assets.buckets': 'own',
  'assets.cameras': 'own',
  'assets.get': 'own',
  'assets.update': 'own',
  'assets.favorite': 'own',
  'assets.delete': 'own',
  'assets.restore': 'own',
  'assets.checkExisting': 'upload',
  'assets.duplicates': 'own',
  'albums.list': 'own',
  'albums.get': 'own',
  'albums.create': 'own',
  'albums.rename': 'own',
  'albums.delete': 'own',
  'albums.addAssets': 'own',
  'albums.removeAssets': 'own',
  'albums.setCover': 'own',
  'shares.list': 'own',
  'shares.create': 'session',
  'shares.revoke': 'session',
  'trash.list': 'own',
  'trash.empty': 'own',
  'folders.list': 'own',
  'search.query': 'own',
  'stats.summary': 'own',
  'jobs.summary': 'own',
  'jobs.failed': 'own',
  'jobs.retryFailed': 'own',
  'jobs.makeMissing': 'admin',
  'libraries.list': 'own',
  'libraries.get': 'own',
  'libraries.status': 'own',
  'libraries.create': 'admin',
  'libraries.update': 'admin',
  'libraries.delete': 'admin',
  'libraries.checkPath': 'adminPath',
  'libraries.rescan': 'admin',
  'libraries.roots': 'adminPath',
  'backups.list': 'admin',
  'backups.get': 'admin',
  'backups.create': 'admin',
  'backups.update': 'admin',
  'backups.delete': 'admin',
  'backups.previewCron': 'admin',
  'backups.checkTarget': 'adminPath',
  'backups.runNow': 'admin',
  'backups.verifyNow': 'admin',
  'backups.runs': 'admin',
  'backups.run': 'admin',
  'users.list': 'admin',
  'users.create': 'admin',
  'users.update': 'admin',
  'users.delete': 'admin',
  'users.auditLog': 'admin',
};

/** These end the caller's own sign-in, so each walk calls them last. */
const SIGNING_OUT = ['auth.logout', 'auth.logoutEverywhere'];
const NO_SUCH_ID = '00000000-0000-4000-8000-000000000000';

type Caller = 'anonymous' | 'readToken' | 'uploadToken' | 'member' | 'adminReadToken' | 'admin';

/** Bob's things, which every caller aims at. */
interface Target {
  userId: string;
  assetId: string;
  assetSha256: string;
  albumId: string;
  shareId: string;
  shareToken: string;
  libraryId: string;
  sessionId: string;
  tokenId: string;
}

/** An input aimed at Bob's things (administrators' procedures at ids that do not exist). */
function inputFor(name: string, bob: Target): unknown {
  const ids = [bob.assetId];
  const inputs: Record<string, unknown> = {
    'auth.setup': { username: 'intruder', password: 'long enough password' },
    'auth.login': { username: 'bob', password: 'not his password' },
    'auth.changePassword': { current: 'not the password', next: 'a new long password' },
    'auth.updateProfile': { displayName: 'Renamed' },
    'auth.revokeSession': { id: bob.sessionId },
    'auth.createToken': { name: 'matrix', scopes: ['read'] },
    'auth.revokeToken': { id: bob.tokenId },
    'assets.list': { filters: {} },
    'assets.buckets': { filters: {} },
    'assets.get': { id: bob.assetId },
    'assets.update': { id: bob.assetId, favorite: true, description: 'mine now' },
    'assets.favorite': { ids, favorite: true },
    'assets.delete': { ids },
    'assets.restore': { ids },
    'assets.checkExisting': { sha256: [bob.assetSha256] },
    'assets.duplicates': {},
    'albums.get': { id: bob.albumId },
    'albums.create': { name: 'stolen', assetIds: ids },
    'albums.rename': { id: bob.albumId, name: 'renamed' },
    'albums.delete': { id: bob.albumId },
    'albums.addAssets': { id: bob.albumId, assetIds: ids },
    'albums.removeAssets': { id: bob.albumId, assetIds: ids },
    'albums.setCover': { id: bob.albumId, assetId: bob.assetId },
    'shares.create': { assetId: bob.assetId, allowDownload: true },
    'shares.revoke': { id: bob.shareId },
    'trash.list': {},
    'folders.list': { libraryId: bob.libraryId },
    'search.query': { q: 'bob' },
    'jobs.failed': { everyone: true },
    'jobs.retryFailed': { everyone: true, ids },
    'libraries.list': { everyone: true },
    'libraries.get': { id: bob.libraryId },
    'libraries.status': { id: bob.libraryId },
    'libraries.create': { name: 'etc', rootPath: '/etc' },
    'libraries.update': { id: NO_SUCH_ID, name: 'x' },
    'libraries.delete': { id: NO_SUCH_ID },
    'libraries.checkPath': { rootPath: '/etc' },
    'libraries.rescan': { id: NO_SUCH_ID },
    'backups.get': { id: NO_SUCH_ID },
    'backups.create': { name: 'b', cron: '0 3 * * *', targetDir: '/nonexistent-nook-target' },
    'backups.update': { id: NO_SUCH_ID, name: 'x' },
    'backups.delete': { id: NO_SUCH_ID },
    'backups.previewCron': { cron: '0 3 * * *' },
    'backups.checkTarget': { targetDir: '/nonexistent-nook-target' },
    'backups.runNow': { id: NO_SUCH_ID },
    'backups.verifyNow': { id: NO_SUCH_ID },
    'backups.runs': {},
    'backups.run': { id: NO_SUCH_ID },
    'users.create': { username: 'matrixuser', password: 'a long enough password' },
    'users.update': { id: NO_SUCH_ID, displayName: 'x' },
    'users.delete': { id: NO_SUCH_ID },
    'users.auditLog': {},
  };
  return inputs[name];
}

/** What the caller should get: refused with this code, or let through (any other outcome). */
function expected(caller: Caller, access: Access, type: string): 'UNAUTHORIZED' | 'FORBIDDEN' | 'through' {
  if (access === 'public') return 'through';
  if (caller === 'anonymous') return 'UNAUTHORIZED';
  if (caller === 'admin') return 'through';
  if (caller === 'adminReadToken')
    return type === 'query' && access !== 'session' && access !== 'adminPath' ? 'through' : 'FORBIDDEN';
  if (access === 'admin' || access === 'adminPath') return 'FORBIDDEN';
  if (caller === 'member') return 'through';
  if (access === 'session') return 'FORBIDDEN';
  if (caller === 'readToken') return type === 'query' ? 'through' : 'FORBIDDEN';
  return access === 'upload' && type === 'mutation' ? 'through' : 'FORBIDDEN';
}

interface Outcome {
  code: string;
  data?: unknown;
}

async function call(client: TestClient, name: string, type: string, input: unknown): Promise<Outcome> {
  try {
    const data = type === 'query' ? await client.query(name, input) : await client.mutate(name, input);
    return { code: 'OK', data };
  } catch (error) {
    const code = (error as { code?: string }).code;
    if (!code) throw error;
    return { code };
  }
}

describe('authorization matrix', () => {
  let nook: TestNook;
  let admin: TestClient;
  let bob: Target;
  const callers = {} as Record<Caller, TestClient>;
  const procedures = Object.entries(
    appRouter._def.procedures as unknown as Record<string, { _def: { type: string } }>,
  ).sort(([a], [b]) => Number(SIGNING_OUT.includes(a)) - Number(SIGNING_OUT.includes(b)));

  const credentials = {
    member: ['alice', 'alice password 1'],
    admin: [ADMIN.username, ADMIN.password],
  } as const;
  const signIn = async (username: string, password: string) => {
    const client = new TestClient(nook.url);
    await client.mutate('auth.login', { username, password });
    return client;
  };

  beforeAll(async () => {
    nook = await startTestNook();
    admin = await setUpAdmin(nook.url);
    for (const username of ['alice', 'bob'])
      await admin.mutate('users.create', { username, password: `${username} password 1` });

    const bobClient = await signIn('bob', 'bob password 1');
    const uploaded = (await (
      await bobClient.upload([
        { name: 'bob.jpg', data: await makeJpeg({ width: 64, height: 48 }), type: 'image/jpeg' },
      ])
    ).json()) as { id: string; sha256: string }[];
    const asset = uploaded[0]!;
    const album = await bobClient.mutate<{ id: string }>('albums.create', {
      name: 'Bob only',
      assetIds: [asset.id],
    });
    const share = await bobClient.mutate<{ id: string; url: string }>('shares.create', {
      assetId: asset.id,
      allowDownload: true,
    });
    const libraries = await bobClient.query<{ id: string }[]>('libraries.list');
    const sessions = await bobClient.query<{ id: string }[]>('auth.sessions');
    const token = await bobClient.mutate<{ id: string }>('auth.createToken', {
      name: 'bob',
      scopes: ['read'],
    });
    bob = {
      userId: (await bobClient.query<{ id: string }>('auth.me')).id,
      assetId: asset.id,
      assetSha256: asset.sha256,
      albumId: album.id,
      shareId: share.id,
      shareToken: share.url.split('/').pop()!,
      libraryId: libraries[0]!.id,
      sessionId: sessions[0]!.id,
      tokenId: token.id,
    };

    const alice = await signIn('alice', 'alice password 1');
    const tokenOf = async (scopes: string[]) =>
      (await alice.mutate<{ token: string }>('auth.createToken', { name: scopes.join(), scopes })).token;
    callers.anonymous = new TestClient(nook.url);
    callers.readToken = new TestClient(nook.url).withToken(await tokenOf(['read']));
    callers.uploadToken = new TestClient(nook.url).withToken(await tokenOf(['upload']));
    callers.member = alice;
    callers.adminReadToken = new TestClient(nook.url).withToken(
      (await admin.mutate<{ token: string }>('auth.createToken', { name: 'admin read', scopes: ['read'] }))
        .token,
    );
    callers.admin = admin;
  });

  afterAll(async () => {
    await nook?.close();
  });

  it('classifies every procedure, so a new one must say who may call it', () => {
    expect(
      procedures.map(([name]) => name).sort(),
      'a procedure is missing from ACCESS (or ACCESS names one that is gone)',
    ).toEqual(Object.keys(ACCESS).sort());
  });

  // Tokens first: the member's walk ends by signing out everywhere, which ends her tokens too.
  for (const caller of [
    'anonymous',
    'readToken',
    'uploadToken',
    'member',
    'adminReadToken',
    'admin',
  ] as const) {
    it(`walks every procedure as ${caller}, aimed at another member's things`, async () => {
      const client = callers[caller];
      const wrong: string[] = [];
      for (const [name, procedure] of procedures) {
        if (name === 'auth.setup' || name === 'auth.login') continue;
        const type = procedure._def.type;
        const want = expected(caller, ACCESS[name]!, type);
        // Signing out ends the caller's session, so a session caller signs out a fresh one of its own.
        const fresh = SIGNING_OUT.includes(name) && (caller === 'member' || caller === 'admin');
        const [username, password] = fresh ? credentials[caller as 'member' | 'admin'] : [];
        const by = username && password ? await signIn(username, password) : client;
        const outcome = await call(by, name, type, inputFor(name, bob));
        const refused = outcome.code === 'UNAUTHORIZED' || outcome.code === 'FORBIDDEN';
        if (want === 'through' ? refused : outcome.code !== want)
          wrong.push(`${name} (${type}): expected ${want}, got ${outcome.code}`);
        // Nothing that answers may carry Bob's photos, albums or links.
        const body = JSON.stringify(outcome.data ?? null);
        for (const id of [bob.assetId, bob.albumId, bob.shareId, bob.assetSha256])
          if (body.includes(id)) wrong.push(`${name} (${type}) answered with Bob's ${id}`);
      }
      expect(wrong).toEqual([]);
    });
  }

  it("left Bob's things as they were", async () => {
    const bobClient = await signIn('bob', 'bob password 1');
    const asset = await bobClient.query<{ favorite: boolean; description: string | null }>('assets.get', {
      id: bob.assetId,
    });
    expect(asset).toMatchObject({ favorite: false, description: null });
    const album = await bobClient.query<{ name: string }>('albums.get', { id: bob.albumId });
    expect(album.name).toBe('Bob only');
    expect(await bobClient.query<unknown[]>('trash.list', {})).toMatchObject({ items: [] });
    const shared = await new TestClient(nook.url).fetch(`/api/shares/${bob.shareToken}`);
    expect(shared.status).toBe(200);
    const tokens = await bobClient.query<{ id: string }[]>('auth.tokens');
    expect(tokens.map((token) => token.id)).toContain(bob.tokenId);
    const sessions = await bobClient.query<{ id: string }[]>('auth.sessions');
    expect(sessions.map((session) => session.id)).toContain(bob.sessionId);
    // No album was left behind by the refused attempts to put Bob's photo in one.
    const albums = (await nook.orm.em.fork().getConnection().execute('select name from albums')) as {
      name: string;
    }[];
    expect(albums.map((row) => row.name)).toEqual(['Bob only']);
  });
});

describe('authorization matrix over the /api routes', () => {
  let nook: TestNook;
  let bob: { assetId: string };
  const callers = {} as Record<Caller, TestClient>;

  beforeAll(async () => {
    nook = await startTestNook({ workers: false });
    const admin = await setUpAdmin(nook.url);
    for (const username of ['alice', 'bob'])
      await admin.mutate('users.create', { username, password: `${username} password 1` });
    const signIn = async (username: string) => {
      const client = new TestClient(nook.url);
      await client.mutate('auth.login', { username, password: `${username} password 1` });
      return client;
    };
    const bobClient = await signIn('bob');
    const [asset] = (await (
      await bobClient.upload([
        { name: 'bob.jpg', data: await makeJpeg({ width: 64, height: 48 }), type: 'image/jpeg' },
      ])
    ).json()) as { id: string }[];
    bob = { assetId: asset!.id };
    const alice = await signIn('alice');
    const tokenOf = async (scopes: string[]) =>
      (await alice.mutate<{ token: string }>('auth.createToken', { name: scopes.join(), scopes })).token;
    callers.anonymous = new TestClient(nook.url);
    callers.readToken = new TestClient(nook.url).withToken(await tokenOf(['read']));
    callers.uploadToken = new TestClient(nook.url).withToken(await tokenOf(['upload']));
    callers.member = alice;
    callers.admin = admin;
  });

  afterAll(async () => {
    await nook?.close();
  });

  const jpeg = makeJpeg({ width: 32, height: 24 });
  const json = (body: unknown): RequestInit => ({
    method: 'POST',
    body: JSON.stringify(body),
    headers: { 'content-type': 'application/json' },
  });

  /**
   * Every /api route: what it needs, and a request aimed at Bob's photo. `owned` routes answer 404
   * to everyone but Bob (administrators included: a person's photos are theirs).
   */
  const routes: Record<
    string,
    { access: 'public' | 'read' | 'upload'; request: () => Promise<RequestInit & { path: string }> }
  > = {
    'GET /api/health': { access: 'public', request: async () => ({ path: '/api/health' }) },
    'GET /api/assets/:id/original': {
      access: 'read',
      request: async () => ({ path: `/api/assets/${bob.assetId}/original` }),
    },
    'GET /api/assets/:id/thumbnail': {
      access: 'read',
      request: async () => ({ path: `/api/assets/${bob.assetId}/thumbnail?size=thumb` }),
    },
    'POST /api/assets/archive': {
      access: 'read',
      request: async () => ({ path: '/api/assets/archive', ...json({ ids: [bob.assetId] }) }),
    },
    'POST /api/assets/archive/tickets': {
      access: 'read',
      request: async () => ({ path: '/api/assets/archive/tickets', ...json({ ids: [bob.assetId] }) }),
    },
    'GET /api/assets/archive/:ticket': {
      access: 'read',
      request: async () => ({ path: `/api/assets/archive/${'0'.repeat(32)}` }),
    },
    'POST /api/assets': {
      access: 'upload',
      request: async () => {
        const boundary = 'matrixboundary';
        const body = Buffer.concat([
          Buffer.from(
            `--${boundary}\r\ncontent-disposition: form-data; name="file"; filename="m.jpg"\r\ncontent-type: image/jpeg\r\n\r\n`,
          ),
          await jpeg,
          Buffer.from(`\r\n--${boundary}--\r\n`),
        ]);
        return {
          path: '/api/assets',
          method: 'POST',
          body,
          headers: { 'content-type': `multipart/form-data; boundary=${boundary}` },
        };
      },
    },
    'POST /api/uploads': {
      access: 'upload',
      request: async () => ({
        path: '/api/uploads',
        method: 'POST',
        headers: { 'tus-resumable': '1.0.0', 'upload-length': '10', 'upload-metadata': 'filename bS5qcGc=' },
      }),
    },
    'HEAD /api/uploads/:id': {
      access: 'upload',
      request: async () => ({
        path: `/api/uploads/${NO_SUCH_ID}.${'0'.repeat(32)}`,
        method: 'HEAD',
        headers: { 'tus-resumable': '1.0.0' },
      }),
    },
    'PATCH /api/uploads/:id': {
      access: 'upload',
      request: async () => ({
        path: `/api/uploads/${NO_SUCH_ID}.${'0'.repeat(32)}`,
        method: 'PATCH',
        body: 'x',
        headers: {
          'tus-resumable': '1.0.0',
          'upload-offset': '0',
          'content-type': 'application/offset+octet-stream',
        },
      }),
    },
    'DELETE /api/uploads/:id': {
      access: 'upload',
      request: async () => ({
        path: `/api/uploads/${NO_SUCH_ID}.${'0'.repeat(32)}`,
        method: 'DELETE',
        headers: { 'tus-resumable': '1.0.0' },
      }),
    },
  };

  it('covers every /api route (share links are walked by their own tests)', () => {
    const registered = nook.app.registeredRoutes
      .filter((route) => route.url.startsWith('/api/') && !route.url.startsWith('/api/shares/'))
      // Fastify answers HEAD for every GET by itself; tus declares its own.
      .filter(
        (route) =>
          route.method !== 'OPTIONS' && (route.method !== 'HEAD' || route.url.startsWith('/api/uploads')),
      )
      .map((route) => `${route.method} ${route.url}`);
    expect([...new Set(registered)].sort()).toEqual(Object.keys(routes).sort());
  });

  for (const caller of ['anonymous', 'readToken', 'uploadToken', 'member', 'admin'] as const) {
    it(`walks every route as ${caller}, aimed at another member's photo`, async () => {
      const wrong: string[] = [];
      for (const [route, { access, request }] of Object.entries(routes)) {
        const { path, ...init } = await request();
        const response = await callers[caller].fetch(path, init);
        const status = response.status;
        await response.arrayBuffer();
        let want: string;
        if (access === 'public') want = '2xx';
        else if (caller === 'anonymous') want = '401';
        else if (caller === 'uploadToken' && access === 'read') want = '403';
        else if (caller === 'readToken' && access === 'upload') want = '403';
        // Through the gate: Bob's photo and unknown ids answer 404; an upload of one's own succeeds.
        else if (route === 'POST /api/assets' || route === 'POST /api/uploads') want = '2xx';
        else want = '404';
        const got = status >= 200 && status < 300 ? '2xx' : String(status);
        if (got !== want) wrong.push(`${route}: expected ${want}, got ${status}`);
        if (status >= 500) wrong.push(`${route}: ${status}`);
      }
      expect(wrong).toEqual([]);
    });
  }
});
