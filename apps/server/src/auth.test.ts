// Accounts and hardening over real HTTP: default deny, sessions, tokens, members, quotas, CSRF, shares.
import { randomBytes } from 'node:crypto';
import { symlink, rm, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { appRouter } from '@nook/api';
import { Share } from '@nook/core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ADMIN, TestClient, setUpAdmin, startTestNook, type TestNook } from '../../../test/harness';
import { makeJpeg } from '../../../test/media';

const PUBLIC_PROCEDURES = new Set(['auth.status', 'auth.setup', 'auth.login']);
const SOME_UUID = '00000000-0000-4000-8000-000000000000';

interface Uploaded {
  id: string;
}

async function expectCode(promise: Promise<unknown>, code: string): Promise<void> {
  await expect(promise).rejects.toMatchObject({ code });
}

describe('accounts and hardening', () => {
  let nook: TestNook;
  let admin: TestClient;

  beforeAll(async () => {
    nook = await startTestNook();
  });

  afterAll(async () => {
    await nook?.close();
  });

  const anonymous = () => new TestClient(nook.url);

  it('answers 401 on every route and procedure but the allowlist, before and after setup', async () => {
    const check = async () => {
      const visitor = anonymous();
      const apiRoutes = nook.app.registeredRoutes.filter(
        (route) => route.url.startsWith('/api/') && route.method !== 'HEAD',
      );
      expect(apiRoutes.length).toBeGreaterThan(5);
      for (const route of apiRoutes) {
        const url = route.url.replace(':id', SOME_UUID).replace(':token', 'A'.repeat(32));
        const response = await visitor.fetch(url, {
          method: route.method,
          ...(route.method === 'POST' && { body: '{}', headers: { 'content-type': 'application/json' } }),
        });
        if (route.public) expect(response.status, `${route.method} ${route.url}`).not.toBe(401);
        else expect(response.status, `${route.method} ${route.url}`).toBe(401);
      }
      const publicRoutes = apiRoutes
        .filter((route) => route.public)
        .map((route) => `${route.method} ${route.url}`);
      expect(publicRoutes.sort()).toEqual([
        'GET /api/health',
        'GET /api/shares/:token',
        'GET /api/shares/:token/items/:id/original',
        'GET /api/shares/:token/items/:id/thumbnail',
        'GET /api/shares/:token/original',
        'GET /api/shares/:token/thumbnail',
        'POST /api/shares/:token/unlock',
      ]);
      const procedures = appRouter._def.procedures as unknown as Record<string, { _def: { type: string } }>;
      expect(Object.keys(procedures).length).toBeGreaterThan(20);
      for (const [name, procedure] of Object.entries(procedures)) {
        if (PUBLIC_PROCEDURES.has(name)) continue;
        const call = procedure._def.type === 'query' ? visitor.query(name, {}) : visitor.mutate(name, {});
        await expectCode(call, 'UNAUTHORIZED');
      }
    };
    expect(await anonymous().query('auth.status')).toEqual({ needsSetup: true, user: null });
    await check();
    admin = await setUpAdmin(nook.url);
    expect(await anonymous().query('auth.status')).toMatchObject({ needsSetup: false, user: null });
    await check();
  });

  it('opens setup only once', async () => {
    await expectCode(
      anonymous().mutate('auth.setup', { username: 'intruder', password: 'long enough pw' }),
      'CONFLICT',
    );
    expect(await admin.query('auth.status')).toMatchObject({ user: { username: 'admin', role: 'admin' } });
  });

  it('refuses bad input with a 4xx and a message', async () => {
    await expectCode(
      anonymous().mutate('auth.login', { username: 'x'.repeat(10_000), password: 'y' }),
      'BAD_REQUEST',
    );
    const notUtf8 = await anonymous().fetch('/trpc/auth.login', {
      method: 'POST',
      body: Buffer.from([0x7b, 0xff, 0xfe, 0x7d]),
      headers: { 'content-type': 'application/json' },
    });
    expect(notUtf8.status).toBeGreaterThanOrEqual(400);
    expect(notUtf8.status).toBeLessThan(500);
    for (const pathname of [
      '/api/assets/..%2f..%2fetc%2fpasswd/original',
      '/api/assets/%2e%2e/thumbnail',
      '/api/shares/..%2F..%2Fnook.db',
    ]) {
      const response = await admin.fetch(pathname);
      expect([400, 404], pathname).toContain(response.status);
      expect(await response.json()).toMatchObject({ message: expect.any(String) });
    }
  });

  it('signs in, backs off after repeated failures, and records both in the audit log', async () => {
    const browser = anonymous();
    await expectCode(
      browser.mutate('auth.login', { username: 'admin', password: 'wrong password' }),
      'UNAUTHORIZED',
    );
    await expectCode(
      browser.mutate('auth.login', { username: 'nobody', password: 'wrong password' }),
      'UNAUTHORIZED',
    );
    const signedIn = await browser.mutate('auth.login', { username: 'ADMIN', password: ADMIN.password });
    expect(signedIn).toMatchObject({ username: 'admin' });

    const attacker = new TestClient(nook.url);
    for (let i = 0; i < 5; i++)
      await expectCode(
        attacker.mutate('auth.login', { username: 'admin', password: `guess ${i}` }),
        'UNAUTHORIZED',
      );
    const locked = await attacker.fetch('/trpc/auth.login', {
      method: 'POST',
      body: JSON.stringify({ username: 'admin', password: ADMIN.password }),
      headers: { 'content-type': 'application/json' },
    });
    expect(locked.status).toBe(429);

    const events = await admin.query<{ type: string; subject: string }[]>('users.auditLog', {});
    expect(events.map((event) => event.type)).toEqual(
      expect.arrayContaining(['setup', 'login', 'login_failed', 'login_locked']),
    );
    expect(events.find((event) => event.type === 'login_failed')?.subject).toBeTruthy();
  });

  it('rejects forged session cookies', async () => {
    const response = await fetch(`${nook.url}/trpc/auth.me`, {
      headers: { cookie: 'nook_session=forged-value' },
    });
    expect(response.status).toBe(401);
    expect(response.headers.getSetCookie().join()).toContain('nook_session=;');
  });
});

describe('sessions, tokens, members and shares', () => {
  let nook: TestNook;
  let admin: TestClient;
  let adminAsset: Uploaded;

  beforeAll(async () => {
    nook = await startTestNook();
    admin = await setUpAdmin(nook.url);
    const response = await admin.upload([{ name: 'admin.jpg', data: await makeJpeg({ seed: 'aa2211' }) }]);
    adminAsset = ((await response.json()) as Uploaded[])[0]!;
  });

  afterAll(async () => {
    await nook?.close();
  });

  const signIn = async (username: string, password: string) => {
    const client = new TestClient(nook.url);
    await client.mutate('auth.login', { username, password });
    return client;
  };

  it('lists sessions with the current one marked, revokes another, and forgets a logged-out cookie', async () => {
    const phone = await signIn(ADMIN.username, ADMIN.password);
    const sessions = await admin.query<{ id: string; current: boolean }[]>('auth.sessions');
    expect(sessions).toHaveLength(2);
    const phoneSession = sessions.find((session) => !session.current)!;
    await admin.mutate('auth.revokeSession', { id: phoneSession.id });
    await expectCode(phone.query('auth.me'), 'UNAUTHORIZED');

    const tablet = await signIn(ADMIN.username, ADMIN.password);
    const stolenCookie = tablet.cookieHeader();
    await tablet.mutate('auth.logout');
    const replay = await fetch(`${nook.url}/trpc/auth.me`, { headers: { cookie: stolenCookie } });
    expect(replay.status).toBe(401);
  });

  it('changes the password, signing out every other session', async () => {
    const other = await signIn(ADMIN.username, ADMIN.password);
    await expectCode(
      admin.mutate('auth.changePassword', { current: 'not it', next: 'a new password' }),
      'BAD_REQUEST',
    );
    await admin.mutate('auth.changePassword', { current: ADMIN.password, next: 'a new password' });
    await expectCode(other.query('auth.me'), 'UNAUTHORIZED');
    expect(await admin.query('auth.me')).toMatchObject({ username: 'admin' });
    await admin.mutate('auth.changePassword', { current: 'a new password', next: ADMIN.password });
  });

  it('issues scoped API tokens shown once, records their use, and honours revocation', async () => {
    const reader = await admin.mutate<{ id: string; token: string }>('auth.createToken', {
      name: 'backup script',
      scopes: ['read'],
    });
    expect(reader.token).toMatch(/^nook_/);
    const listed =
      await admin.query<{ id: string; prefix: string; lastUsedAt: string | null }[]>('auth.tokens');
    expect(JSON.stringify(listed)).not.toContain(reader.token);
    expect(listed[0]).toMatchObject({ id: reader.id, lastUsedAt: null });

    const script = admin.withToken(reader.token);
    const bare = new TestClient(nook.url, reader.token);
    expect((await bare.query<{ items: unknown[] }>('assets.list', {})).items).toHaveLength(1);
    expect((await bare.fetch(`/api/assets/${adminAsset.id}/original`)).status).toBe(200);
    expect((await bare.upload([{ name: 'x.jpg', data: await makeJpeg() }])).status).toBe(403);
    await expectCode(script.mutate('auth.createToken', { name: 'escalate', scopes: ['admin'] }), 'FORBIDDEN');
    expect((await admin.query<{ lastUsedAt: string | null }[]>('auth.tokens'))[0]!.lastUsedAt).not.toBeNull();

    const uploader = await admin.mutate<{ id: string; token: string }>('auth.createToken', {
      name: 'camera roll',
      scopes: ['upload'],
    });
    const cli = new TestClient(nook.url, uploader.token);
    expect(
      (await cli.upload([{ name: 'from-cli.jpg', data: await makeJpeg({ seed: '0055ff' }) }])).status,
    ).toBe(201);

    await admin.mutate('auth.revokeToken', { id: reader.id });
    const revoked = await fetch(`${nook.url}/trpc/assets.list`, {
      headers: { authorization: `Bearer ${reader.token}` },
    });
    expect(revoked.status).toBe(401);
    const forged = await fetch(`${nook.url}/api/assets/${adminAsset.id}/original`, {
      headers: { authorization: 'Bearer nook_forged' },
    });
    expect(forged.status).toBe(401);
  });

  it('keeps members to their own assets, away from admin procedures, and within their quota', async () => {
    await admin.mutate('users.create', { username: 'kid', password: 'kid password 1', quotaBytes: 2000 });
    const kid = await signIn('kid', 'kid password 1');
    expect((await kid.query<{ items: unknown[] }>('assets.list', {})).items).toEqual([]);
    await expectCode(kid.query('assets.get', { id: adminAsset.id }), 'NOT_FOUND');
    expect((await kid.fetch(`/api/assets/${adminAsset.id}/original`)).status).toBe(404);
    expect((await kid.fetch(`/api/assets/${adminAsset.id}/thumbnail`)).status).toBe(404);
    await expectCode(kid.query('users.list'), 'FORBIDDEN');
    await expectCode(kid.query('users.auditLog', {}), 'FORBIDDEN');
    await expectCode(kid.mutate('shares.create', { assetId: adminAsset.id }), 'NOT_FOUND');
    await expectCode(kid.mutate('auth.createToken', { name: 'x', scopes: ['admin'] }), 'FORBIDDEN');
    // A member edits their own display name, and nothing else of their account.
    expect(
      await kid.mutate('auth.updateProfile', { displayName: '  Kid of the house ', role: 'admin' }),
    ).toMatchObject({ username: 'kid', displayName: 'Kid of the house', role: 'member', quotaBytes: 2000 });
    expect(await kid.mutate('auth.updateProfile', { displayName: '' })).toMatchObject({ displayName: 'kid' });

    const big = await kid.upload([{ name: 'big.bin', data: randomBytes(5000) }]);
    expect(big.status).toBe(413);
    expect(((await big.json()) as { message: string }).message).toContain('quota');
    expect((await kid.upload([{ name: 'small.txt', data: Buffer.from('hello') }])).status).toBe(201);

    const users = await admin.query<{ username: string; usedBytes: number }[]>('users.list');
    expect(users.find((user) => user.username === 'kid')?.usedBytes).toBe(5);
    const adminId = (await admin.query<{ id: string }>('auth.me')).id;
    await expectCode(admin.mutate('users.update', { id: adminId, role: 'member' }), 'BAD_REQUEST');
  });

  it('refuses cookie-authenticated changes from another origin (CSRF)', async () => {
    const body = JSON.stringify({ name: 'csrf', scopes: ['read'] });
    const headers = { 'content-type': 'application/json', cookie: admin.cookieHeader() };
    const crossSite = await fetch(`${nook.url}/trpc/auth.createToken`, {
      method: 'POST',
      body,
      headers: { ...headers, origin: 'http://evil.example' },
    });
    expect(crossSite.status).toBe(403);
    const noOrigin = await fetch(`${nook.url}/trpc/auth.createToken`, { method: 'POST', body, headers });
    expect(noOrigin.status).toBe(403);
  });

  it('serves originals only from inside their library (symlink escape refused)', async () => {
    const [item] = (await (
      await admin.upload([{ name: 'escape.txt', data: Buffer.from('inside') }])
    ).json()) as Uploaded[];
    const outside = path.join(nook.dataDir.root, 'outside-secret.txt');
    await writeFile(outside, 'secret');
    const asset = await admin.query<{ name: string }>('assets.get', { id: item!.id });
    const onDisk = path.join(
      nook.dataDir.library,
      'admin',
      `${new Date().getFullYear()}`,
      String(new Date().getMonth() + 1).padStart(2, '0'),
      asset.name,
    );
    await rm(onDisk);
    await symlink(outside, onDisk);
    const response = await admin.fetch(`/api/assets/${item!.id}/original`);
    expect(response.status).toBe(403);
    expect(await response.text()).not.toContain('secret"');
  });

  it('shares an asset publicly, by password, with or without download, until revoked or expired', async () => {
    const open = await admin.mutate<{ id: string; url: string }>('shares.create', {
      assetId: adminAsset.id,
      allowDownload: false,
    });
    const token = open.url.split('/').pop()!;
    const visitor = new TestClient(nook.url);
    const meta = await visitor.fetch(`/api/shares/${token}`);
    expect(meta.status).toBe(200);
    const body = (await meta.json()) as {
      name: string;
      originalUrl: string | null;
      previewUrl: string | null;
    };
    expect(body).toMatchObject({ type: 'asset', kind: 'image', name: 'admin.jpg', originalUrl: null });
    expect(JSON.stringify(body)).not.toContain(adminAsset.id);
    expect((await visitor.fetch(`/api/shares/${token}/original`)).status).toBe(403);
    expect((await visitor.fetch(`/api/assets/${adminAsset.id}/original`)).status).toBe(401);

    const locked = await admin.mutate<{ id: string; url: string }>('shares.create', {
      assetId: adminAsset.id,
      allowDownload: true,
      password: 'open sesame',
      expiresAt: new Date(Date.now() + 60_000).toISOString(),
    });
    const lockedToken = locked.url.split('/').pop()!;
    const guest = new TestClient(nook.url);
    const needsPassword = await guest.fetch(`/api/shares/${lockedToken}`);
    expect(needsPassword.status).toBe(401);
    expect(await needsPassword.json()).toMatchObject({ error: 'password_required' });
    expect((await guest.fetch(`/api/shares/${lockedToken}/original`)).status).toBe(401);
    const unlock = (password: string) =>
      guest.fetch(`/api/shares/${lockedToken}/unlock`, {
        method: 'POST',
        body: JSON.stringify({ password }),
        headers: { 'content-type': 'application/json' },
      });
    expect((await unlock('wrong')).status).toBe(401);
    expect((await unlock('open sesame')).status).toBe(204);
    expect((await guest.fetch(`/api/shares/${lockedToken}`)).status).toBe(200);
    const original = await guest.fetch(`/api/shares/${lockedToken}/original`);
    expect(original.status).toBe(200);
    expect(original.headers.get('content-type')).toBe('image/jpeg');

    const shares =
      await admin.query<{ id: string; viewCount: number; hasPassword: boolean }[]>('shares.list');
    expect(shares.find((share) => share.id === open.id)).toMatchObject({ viewCount: 1, hasPassword: false });

    await nook.orm.em
      .fork()
      .nativeUpdate(Share, { id: locked.id }, { expiresAt: new Date(Date.now() - 1000) });
    expect((await guest.fetch(`/api/shares/${lockedToken}`)).status).toBe(404);
    await admin.mutate('shares.revoke', { id: open.id });
    const gone = await visitor.fetch(`/api/shares/${token}`);
    expect(gone.status).toBe(404);
    expect(((await gone.json()) as { message: string }).message).toContain('revoked');

    const events = await admin.query<{ type: string }[]>('users.auditLog', {});
    expect(events.map((event) => event.type)).toEqual(
      expect.arrayContaining(['share_created', 'share_revoked', 'token_created', 'user_created']),
    );
  });

  it('sends security headers on API replies', async () => {
    const response = await fetch(`${nook.url}/api/health`);
    expect(response.headers.get('content-security-policy')).toContain("frame-ancestors 'none'");
    expect(response.headers.get('x-content-type-options')).toBe('nosniff');
    expect(response.headers.get('referrer-policy')).toBe('same-origin');
  });
});
