// Accounts hardening over real HTTP: where setup may come from and that it happens once, credentials
// that end with a password change, reset or "sign out everywhere", members' job counts, atomic albums,
// names without invisible characters, and the CLI's account changes in the audit log.
import { spawn } from 'node:child_process';
import { request } from 'node:http';
import { rm } from 'node:fs/promises';
import { fileURLToPath } from 'node:url';
import { AuditEvent, User } from '@nook/core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  ADMIN,
  TestClient,
  eventually,
  makeTempDir,
  setUpAdmin,
  startTestNook,
  type TestNook,
} from '../../../test/harness';
import { makeJpeg } from '../../../test/media';

const nookBin = fileURLToPath(new URL('../../cli/bin/nook.js', import.meta.url));

interface Reply {
  status: number;
  body: { error?: { message: string; data: { code: string } }; result?: unknown };
}

/** A tRPC mutation sent with exactly the Host (and Origin) given, as a browser on another name would. */
function setupAs(
  nook: TestNook,
  headers: { host: string; origin?: string; 'x-forwarded-for'?: string; 'x-forwarded-host'?: string },
  input: { username: string; password: string },
): Promise<Reply> {
  const { port } = new URL(nook.url);
  const body = JSON.stringify(input);
  return new Promise((resolve, reject) => {
    const req = request(
      {
        host: '127.0.0.1',
        port,
        path: '/trpc/auth.setup',
        method: 'POST',
        headers: {
          ...headers,
          'content-type': 'application/json',
          'content-length': Buffer.byteLength(body),
        },
      },
      (res) => {
        let text = '';
        res.on('data', (chunk: Buffer) => (text += chunk.toString()));
        res.on('end', () => resolve({ status: res.statusCode!, body: JSON.parse(text) as Reply['body'] }));
      },
    );
    req.on('error', reject);
    req.end(body);
  });
}

async function expectCode(promise: Promise<unknown>, code: string): Promise<void> {
  await expect(promise).rejects.toMatchObject({ code });
}

async function signIn(nook: TestNook, username: string, password: string): Promise<TestClient> {
  const client = new TestClient(nook.url);
  await client.mutate('auth.login', { username, password });
  return client;
}

describe('first-run setup', () => {
  let nook: TestNook;

  beforeAll(async () => {
    nook = await startTestNook({ workers: false });
  });

  afterAll(async () => {
    await nook?.close();
  });

  it('refuses a page on a public name (DNS rebinding) and says how to allow it', async () => {
    const rebound = await setupAs(
      nook,
      { host: 'evil.example.com' },
      { username: 'evil', password: 'long enough pw' },
    );
    expect(rebound.status).toBe(403);
    expect(rebound.body.error!.message).toContain('evil.example.com');
    expect(rebound.body.error!.message).toContain('NOOK_PUBLIC_ORIGIN');

    // A household address as Host, but posted by a page elsewhere.
    const crossSite = await setupAs(
      nook,
      { host: '192.168.1.10:8080', origin: 'https://evil.example.com' },
      { username: 'evil', password: 'long enough pw' },
    );
    expect(crossSite.status).toBe(403);
    expect(await nook.orm.em.fork().count(User, {})).toBe(0);
  });

  it('creates exactly one administrator when three setups race', async () => {
    const replies = await Promise.all(
      ['first', 'second', 'third'].map((username) =>
        setupAs(nook, { host: '192.168.1.10:8080' }, { username, password: 'long enough pw' }),
      ),
    );
    expect(replies.map((reply) => reply.status).sort()).toEqual([200, 409, 409]);
    const em = nook.orm.em.fork();
    expect(await em.count(User, {})).toBe(1);
    expect(await em.count(User, { role: 'admin' })).toBe(1);
    expect(await em.count(AuditEvent, { type: 'setup' })).toBe(1);
    const claim = await em.execute<{ user_id: string }[]>('select user_id from setup_claim');
    expect(claim).toEqual([{ user_id: (await em.findOneOrFail(User, { role: 'admin' })).id }]);
  });
});

describe('first-run setup through a configured public name', () => {
  let nook: TestNook;

  beforeAll(async () => {
    nook = await startTestNook({ workers: false, publicHosts: ['photos.example.org'] });
  });

  afterAll(async () => {
    await nook?.close();
  });

  it('is open from NOOK_PUBLIC_ORIGIN and still closed to other names', async () => {
    expect(
      (await setupAs(nook, { host: 'evil.example.com' }, { username: 'evil', password: 'long enough pw' }))
        .status,
    ).toBe(403);
    const reply = await setupAs(
      nook,
      { host: 'photos.example.org', origin: 'https://photos.example.org' },
      { username: 'anna', password: 'long enough pw' },
    );
    expect(reply.status).toBe(200);
  });
});

describe('first-run setup behind a reverse proxy (NOOK_TRUST_PROXY)', () => {
  let nook: TestNook;

  beforeAll(async () => {
    nook = await startTestNook({ workers: false, trustProxy: true });
  });

  afterAll(async () => {
    await nook?.close();
  });

  it('takes neither a forwarded host nor a forged address from a stranger', async () => {
    const stranger = { username: 'evil', password: 'long enough pw' };
    // A proxy that passes no Host on: the request names the loopback, but came from the internet.
    const unnamed = await setupAs(
      nook,
      { host: '127.0.0.1:8080', 'x-forwarded-for': '203.0.113.5' },
      stranger,
    );
    expect(unnamed.status).toBe(403);
    expect(unnamed.body.error?.message).toMatch(/outside the home network/);
    // A client's own X-Forwarded-Host and a private address written left of the one the proxy saw.
    const forged = await setupAs(
      nook,
      {
        host: 'photos.example.org',
        'x-forwarded-host': 'localhost',
        'x-forwarded-for': '192.168.1.20, 203.0.113.5',
      },
      stranger,
    );
    expect(forged.status).toBe(403);
    const fromHome = await setupAs(
      nook,
      { host: 'nook.local', 'x-forwarded-for': '192.168.1.20' },
      { username: 'anna', password: 'long enough pw' },
    );
    expect(fromHome.status).toBe(200);
  });
});

describe('credentials, job counts, albums and names', () => {
  let nook: TestNook;
  let admin: TestClient;
  const ANNA = { username: 'anna', password: 'anna password 1' };

  beforeAll(async () => {
    nook = await startTestNook({
      retryOverrides: {
        metadata: { retryDelay: 1, retryBackoff: false },
        thumbnail: { retryDelay: 1, retryBackoff: false },
        'video-poster': { retryDelay: 1, retryBackoff: false },
      },
    });
    admin = await setUpAdmin(nook.url);
    await admin.mutate('users.create', { ...ANNA });
  });

  afterAll(async () => {
    await nook?.close();
  });

  const tokenWorks = async (token: string) =>
    (await fetch(`${nook.url}/trpc/auth.me`, { headers: { authorization: `Bearer ${token}` } })).status;

  const newToken = async (client: TestClient, name = 'script') =>
    (await client.mutate<{ token: string }>('auth.createToken', { name, scopes: ['read'] })).token;

  it('ends API tokens with a password change', async () => {
    const anna = await signIn(nook, ANNA.username, ANNA.password);
    const token = await newToken(anna);
    expect(await tokenWorks(token)).toBe(200);
    await anna.mutate('auth.changePassword', { current: ANNA.password, next: 'anna password 2' });
    expect(await tokenWorks(token)).toBe(401);
    // The session that changed it stays, and may make a new token.
    expect(await tokenWorks(await newToken(anna))).toBe(200);
    await anna.mutate('auth.changePassword', { current: 'anna password 2', next: ANNA.password });
  });

  it("ends API tokens and sessions with an administrator's password reset", async () => {
    const anna = await signIn(nook, ANNA.username, ANNA.password);
    const token = await newToken(anna);
    expect(await tokenWorks(token)).toBe(200);
    const { id } = (await admin.query<{ id: string; username: string }[]>('users.list')).find(
      (user) => user.username === ANNA.username,
    )!;
    await admin.mutate('users.update', { id, password: ANNA.password });
    expect(await tokenWorks(token)).toBe(401);
    await expectCode(anna.query('auth.me'), 'UNAUTHORIZED');
    const events = await admin.query<{ type: string; subject: string; detail: string }[]>(
      'users.auditLog',
      {},
    );
    expect(events.find((event) => event.type === 'user_updated')).toMatchObject({
      subject: 'anna',
      detail: expect.stringContaining('1 API tokens ended'),
    });
  });

  it('ends API tokens when signing out everywhere', async () => {
    const anna = await signIn(nook, ANNA.username, ANNA.password);
    const token = await newToken(anna);
    const adminToken = await newToken(admin);
    expect(await tokenWorks(token)).toBe(200);
    await anna.mutate('auth.logoutEverywhere');
    expect(await tokenWorks(token)).toBe(401);
    // Only her own.
    expect(await tokenWorks(adminToken)).toBe(200);
  });

  it("shows members their own files' counts, not the instance's queues", async () => {
    const jpeg = await makeJpeg({ seed: 'aa0011' });
    const broken = jpeg.subarray(0, Math.floor(jpeg.length / 3));
    expect((await admin.upload([{ name: 'broken.jpg', data: broken, type: 'image/jpeg' }])).status).toBe(201);
    const forAdmin = await eventually(async () => {
      const summary = await admin.query<{
        queues: Record<string, { completed: number; failed: number }> | null;
        mine: { pending: number; failed: number };
      }>('jobs.summary');
      return summary.mine.failed > 0 ? summary : undefined;
    });
    expect(forAdmin.queues).toHaveProperty('metadata');

    const anna = await signIn(nook, ANNA.username, ANNA.password);
    const forAnna = await anna.query<{ queues: unknown; mine: { pending: number; failed: number } }>(
      'jobs.summary',
    );
    expect(forAnna).toEqual({ queues: null, mine: { pending: 0, failed: 0 }, recoveries: null });
  });

  it("leaves no album behind when one of its assets is someone else's", async () => {
    const response = await admin.upload([{ name: 'admins.jpg', data: await makeJpeg({ seed: '3300aa' }) }]);
    const [foreign] = (await response.json()) as { id: string }[];
    const anna = await signIn(nook, ANNA.username, ANNA.password);
    await expectCode(anna.mutate('albums.create', { name: 'Stolen', assetIds: [foreign!.id] }), 'NOT_FOUND');
    expect(await anna.query<unknown[]>('albums.list')).toEqual([]);

    const own = (await (
      await anna.upload([{ name: 'mine.jpg', data: await makeJpeg({ seed: '00aa33' }) }])
    ).json()) as { id: string }[];
    const album = await anna.mutate<{ id: string }>('albums.create', { name: 'Mine', assetIds: [] });
    await expectCode(
      anna.mutate('albums.addAssets', { id: album.id, assetIds: [own[0]!.id, foreign!.id] }),
      'NOT_FOUND',
    );
    expect(await anna.query('albums.get', { id: album.id })).toMatchObject({ count: 0 });
  });

  it('stores names without control and bidi characters', async () => {
    const anna = await signIn(nook, ANNA.username, ANNA.password);
    const response = await anna.upload([
      { name: 'photo\u202egpj.html', data: Buffer.from('<p>hello</p>'), type: 'text/html' },
    ]);
    expect(response.status).toBe(201);
    const [uploaded] = (await response.json()) as { id: string; name: string }[];
    expect(uploaded!.name).toBe('photogpj.html');
    expect(await anna.query('assets.get', { id: uploaded!.id })).toMatchObject({ name: 'photogpj.html' });

    const album = await anna.mutate<{ name: string }>('albums.create', {
      name: '\u200fHoliday\u202e 2024\u0007 ',
    });
    expect(album.name).toBe('Holiday 2024');
    await expectCode(anna.mutate('albums.create', { name: '\u202e\u200b' }), 'BAD_REQUEST');

    const profile = await anna.mutate<{ displayName: string }>('auth.updateProfile', {
      displayName: 'Anna\u2066 A\u2069\ufeff',
    });
    expect(profile.displayName).toBe('Anna A');
    const token = await anna.mutate<{ name: string }>('auth.createToken', {
      name: 'laptop\u202e',
      scopes: ['read'],
    });
    expect(token.name).toBe('laptop');
  });
});

describe('nook user create', () => {
  let dataDir: string;
  let nook: TestNook | undefined;

  beforeAll(async () => {
    dataDir = await makeTempDir();
  });

  afterAll(async () => {
    await nook?.close();
    await rm(dataDir, { recursive: true, force: true });
  });

  const runCli = (args: string[], stdin: string) =>
    new Promise<{ code: number | null; stdout: string; stderr: string }>((resolve) => {
      const env = { ...process.env, NOOK_DATA_DIR: dataDir };
      const child = spawn(process.execPath, [nookBin, ...args], { env, stdio: ['pipe', 'pipe', 'pipe'] });
      let stdout = '';
      let stderr = '';
      child.stdout.on('data', (chunk: Buffer) => (stdout += chunk.toString()));
      child.stderr.on('data', (chunk: Buffer) => (stderr += chunk.toString()));
      child.on('exit', (code) => resolve({ code, stdout, stderr }));
      child.stdin.end(stdin);
    });

  it('records the accounts it makes in the audit log, as the command line', { timeout: 60_000 }, async () => {
    expect(await runCli(['user', 'create', ADMIN.username], `${ADMIN.password}\n`)).toMatchObject({
      code: 0,
      stdout: 'created admin admin\n',
    });
    expect(await runCli(['user', 'create', 'kid'], 'kid password\n')).toMatchObject({
      code: 0,
      stdout: 'created member kid\n',
    });

    nook = await startTestNook({ dataDir, workers: false });
    const admin = await signIn(nook, ADMIN.username, ADMIN.password);
    const events = await admin.query<{ type: string; subject: string; ip: string; actorId: string | null }[]>(
      'users.auditLog',
      {},
    );
    expect(events).toEqual(
      expect.arrayContaining([
        expect.objectContaining({ type: 'setup', subject: 'admin', ip: 'cli' }),
        expect.objectContaining({ type: 'user_created', subject: 'kid', ip: 'cli', actorId: null }),
      ]),
    );
    // Setup is claimed: the dashboard's first-run page is closed now.
    await expectCode(
      new TestClient(nook.url).mutate('auth.setup', { username: 'late', password: 'long enough pw' }),
      'CONFLICT',
    );
  });
});
