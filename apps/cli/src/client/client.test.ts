// `nook login`, `nook upload` and `nook watch` as real processes against a running server.
import { spawn, type ChildProcess } from 'node:child_process';
import { createHash, randomBytes } from 'node:crypto';
import { mkdir, readFile, readdir, rm, stat, writeFile } from 'node:fs/promises';
import net from 'node:net';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import type { AppRouter } from '@nook/api';
import { Asset } from '@nook/core';
import { TRPCClientError, createTRPCClient, httpBatchLink, httpLink } from '@trpc/client';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { TestClient } from '../../../../test/harness';
import { eventually, makeTempDir, setUpAdmin, startTestNook, type TestNook } from '../../../../test/harness';

const nookBin = fileURLToPath(new URL('../../bin/nook.js', import.meta.url));
const sha256 = (data: Buffer) => createHash('sha256').update(data).digest('hex');

/** A relay to the server at about `bytesPerSecond` (a slow Wi-Fi), so an upload is still on its way when we look. */
async function slowRelay(target: string, bytesPerSecond: number): Promise<{ url: string; close(): void }> {
  const server = net.createServer((client) => {
    const upstream = net.connect(Number(new URL(target).port), '127.0.0.1');
    client.on('data', (chunk: Buffer) => {
      client.pause();
      upstream.write(chunk);
      setTimeout(() => client.resume(), (chunk.length / bytesPerSecond) * 1000);
    });
    upstream.pipe(client);
    client.on('error', () => upstream.destroy());
    upstream.on('error', () => client.destroy());
    client.on('close', () => upstream.destroy());
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return {
    url: `http://127.0.0.1:${(server.address() as net.AddressInfo).port}`,
    close: () => server.close(),
  };
}

/** A relay to the server that counts the bytes clients send through it. */
async function countingRelay(target: string): Promise<{ url: string; sent(): number; close(): void }> {
  let sent = 0;
  const server = net.createServer((client) => {
    const upstream = net.connect(Number(new URL(target).port), '127.0.0.1');
    client.on('data', (chunk: Buffer) => (sent += chunk.length));
    client.pipe(upstream).pipe(client);
    client.on('error', () => upstream.destroy());
    upstream.on('error', () => client.destroy());
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return {
    url: `http://127.0.0.1:${(server.address() as net.AddressInfo).port}`,
    sent: () => sent,
    close: () => server.close(),
  };
}

/** A port on which nothing listens. */
async function closedPort(): Promise<number> {
  const server = net.createServer();
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as net.AddressInfo;
  await new Promise((resolve) => server.close(resolve));
  return port;
}

interface Run {
  code: number | null;
  stdout: string;
  stderr: string;
}

describe('the nook client', () => {
  let nook: TestNook;
  let admin: TestClient;
  let home: string;
  let env: NodeJS.ProcessEnv;
  const children: ChildProcess[] = [];

  const spawnNook = (args: string[], extraEnv: NodeJS.ProcessEnv = {}) => {
    const child = spawn(process.execPath, [nookBin, ...args], {
      env: { ...env, ...extraEnv },
      stdio: ['pipe', 'pipe', 'pipe'],
    });
    children.push(child);
    let stdout = '';
    let stderr = '';
    child.stdout!.on('data', (chunk: Buffer) => (stdout += chunk.toString()));
    child.stderr!.on('data', (chunk: Buffer) => (stderr += chunk.toString()));
    const done = new Promise<Run>((resolve) => child.on('exit', (code) => resolve({ code, stdout, stderr })));
    return { child, done, stdout: () => stdout, stderr: () => stderr };
  };

  const runNook = (args: string[], input = '', extraEnv: NodeJS.ProcessEnv = {}) => {
    const started = spawnNook(args, extraEnv);
    started.child.stdin!.end(input);
    return started.done;
  };

  /** How many live assets of the admin hold this content. */
  const copiesOnServer = async (hash: string) =>
    nook.orm.em.fork().count(Asset, { sha256: hash, deletedAt: null });

  beforeAll(async () => {
    nook = await startTestNook({ workers: false, maxUploadBytes: 48 * 1024 * 1024 });
    admin = await setUpAdmin(nook.url);
    home = await makeTempDir('nook-client-');
    env = {
      ...process.env,
      HOME: home,
      XDG_CONFIG_HOME: path.join(home, 'config'),
      XDG_STATE_HOME: path.join(home, 'state'),
      NOOK_SERVER: '',
      NOOK_TOKEN: '',
    };
  });

  afterAll(async () => {
    for (const child of children) if (child.exitCode === null) child.kill('SIGKILL');
    await nook?.close();
    await rm(home, { recursive: true, force: true });
  });

  it('signs in with a password and keeps an API token in the config dir, mode 0600', async () => {
    const wrong = await runNook(['login', nook.url, '--username', 'admin'], 'not the password\n');
    expect(wrong.code).toBe(1);
    expect(wrong.stderr).toMatch(/password/i);

    const run = await runNook(['login', nook.url, '--username', 'admin'], 'correct horse battery\n');
    expect(run.stderr).toBe('');
    expect(run.code).toBe(0);
    const file = path.join(home, 'config', 'nook', 'credentials.json');
    expect((await stat(file)).mode & 0o777).toBe(0o600);
    const saved = JSON.parse(await readFile(file, 'utf8')) as { server: string; token: string };
    expect(saved).toMatchObject({ server: nook.url, token: expect.stringMatching(/^nook_/) as string });
    // The password's session was only for minting the token.
    const tokens = await admin.query<{ name: string; scopes: string[] }[]>('auth.tokens');
    expect(tokens.find((token) => token.name.startsWith('nook CLI on'))?.scopes).toEqual(['read', 'upload']);
  });

  it('login checks a token with the server and keeps the stored one when it is refused or nobody answers', async () => {
    const file = path.join(home, 'config', 'nook', 'credentials.json');
    const stored = await readFile(file, 'utf8');
    const untouched = async () => expect(await readFile(file, 'utf8')).toBe(stored);

    const bogus = await runNook(['login', nook.url, '--token', 'nook_not_a_token']);
    expect(bogus.code).toBe(1);
    expect(bogus.stderr).toContain('the server refused the token (401');
    expect(bogus.stdout).not.toContain('Signed in');
    await untouched();

    const { id, token } = await admin.mutate<{ id: string; token: string }>('auth.createToken', {
      name: 'soon revoked',
      scopes: ['read', 'upload'],
    });
    await admin.mutate('auth.revokeToken', { id });
    const revoked = await runNook(['login', nook.url, '--token', token]);
    expect(revoked.code).toBe(1);
    expect(revoked.stderr).toContain('the server refused the token (401');
    await untouched();

    // The client uploads: a token that only reads would fail at the first upload, so it is refused now.
    const reader = await admin.mutate<{ token: string }>('auth.createToken', {
      name: 'reader',
      scopes: ['read'],
    });
    const readOnly = await runNook(['login', nook.url, '--token', reader.token]);
    expect(readOnly.code).toBe(1);
    expect(readOnly.stderr).toMatch(/the server refused the token \(403: .*upload scope/);
    await untouched();

    const dead = await closedPort();
    const nobody = await runNook(['login', `127.0.0.1:${dead}`, '--token', token]);
    expect(nobody.code).toBe(1);
    expect(nobody.stderr).toContain(`nothing answered at http://127.0.0.1:${dead} (ECONNREFUSED)`);
    await untouched();
    const nobodyPassword = await runNook(['login', `127.0.0.1:${dead}`, '--username', 'admin'], 'pw\n');
    expect(nobodyPassword.stderr).toContain(`nothing answered at http://127.0.0.1:${dead}`);
    await untouched();

    const good = await admin.mutate<{ token: string }>('auth.createToken', {
      name: 'pasted',
      scopes: ['read', 'upload'],
    });
    const accepted = await runNook(['login', nook.url, '--token', good.token]);
    expect(accepted.stderr).toBe('');
    expect(accepted).toMatchObject({
      code: 0,
      stdout: expect.stringContaining(`Signed in to ${nook.url} as admin`),
    });
    expect(JSON.parse(await readFile(file, 'utf8'))).toEqual({ server: nook.url, token: good.token });
  });

  it('login without a terminal needs --username and a password on standard input', async () => {
    const file = path.join(home, 'config', 'nook', 'credentials.json');
    const stored = await readFile(file, 'utf8');

    const noName = await runNook(['login', nook.url], 'correct horse battery\n');
    expect(noName.code).toBe(1);
    expect(noName.stderr).toContain('no terminal to ask for the user name: pass --username');
    expect(noName.stderr).not.toContain('Username:');

    const noPassword = await runNook(['login', nook.url, '--username', 'admin'], '');
    expect(noPassword.code).toBe(1);
    expect(noPassword.stderr).toContain('no password on standard input');
    expect(await readFile(file, 'utf8')).toBe(stored);

    const piped = await runNook(['login', nook.url, '--username', 'admin'], 'correct horse battery\n');
    expect(piped).toMatchObject({ code: 0, stderr: '' });
    expect(piped.stdout).toContain(`Signed in to ${nook.url} as admin`);
  });

  it('upload stops at once when the token is refused, and says to run nook login', async () => {
    const dir = path.join(home, 'refused-upload');
    await mkdir(dir, { recursive: true });
    await writeFile(path.join(dir, 'photo.jpg'), randomBytes(3000));
    const { id, token } = await admin.mutate<{ id: string; token: string }>('auth.createToken', {
      name: 'revoked laptop',
      scopes: ['read', 'upload'],
    });
    await admin.mutate('auth.revokeToken', { id });
    const reader = await admin.mutate<{ token: string }>('auth.createToken', {
      name: 'reader upload',
      scopes: ['read'],
    });
    for (const refused of [token, 'nook_bogus', reader.token]) {
      const run = await runNook(['upload', dir], '', { NOOK_SERVER: nook.url, NOOK_TOKEN: refused });
      expect(run.code).toBe(77);
      expect(run.stderr).toContain('the token was refused — run nook login');
      expect(run.stderr + run.stdout).not.toContain('unreachable');
      expect(run.stdout).not.toContain('Uploaded:');
    }
  });

  it('watch exits with "the token was refused — run nook login" when its token is bogus', async () => {
    const dir = path.join(home, 'bogus-watch');
    await mkdir(dir, { recursive: true });
    const watcher = spawnNook(
      ['watch', dir, '--state', path.join(home, 'bogus-watch.json'), '--stable', '1'],
      {
        NOOK_SERVER: nook.url,
        NOOK_TOKEN: 'nook_bogus',
      },
    );
    // One that kept retrying would never end: killed after a while, it fails the checks below.
    const guard = setTimeout(() => watcher.child.kill('SIGKILL'), 30_000);
    const run = await watcher.done.finally(() => clearTimeout(guard));
    expect(run.code).toBe(77);
    expect(run.stderr).toContain('nook: the token was refused — run nook login (401');
  });

  it('the server answers a refused token on /trpc as tRPC errors, alone or batched', async () => {
    const refusedBy = (link: typeof httpLink | typeof httpBatchLink) =>
      createTRPCClient<AppRouter>({
        links: [link({ url: `${nook.url}/trpc`, headers: { authorization: 'Bearer nook_bogus' } })],
      });
    for (const client of [refusedBy(httpLink), refusedBy(httpBatchLink)]) {
      const calls = await Promise.allSettled([
        client.assets.buckets.query({}),
        client.assets.cameras.query(),
      ]);
      for (const call of calls) {
        expect(call.status).toBe('rejected');
        const error = (call as PromiseRejectedResult).reason as TRPCClientError<AppRouter>;
        expect(error).toBeInstanceOf(TRPCClientError);
        expect(error.data).toMatchObject({ code: 'UNAUTHORIZED', httpStatus: 401 });
        expect(error.message).toBe('the API token is invalid or revoked');
      }
    }
  });

  it('uploads a tree of 500 files with 20% duplicates once; a second run uploads nothing', async () => {
    const tree = path.join(home, 'photos');
    const contents: Buffer[] = [];
    const files: { rel: string; data: Buffer }[] = [];
    for (let i = 0; i < 450; i++) {
      // A few go through tus (over the 1 MiB threshold below), the rest share multipart requests.
      const data = randomBytes(i % 150 === 0 ? 1536 * 1024 + i : 500 + ((i * 37) % 4000));
      contents.push(data);
      files.push({ rel: `${2000 + (i % 7)}/${['a', 'b', 'c'][i % 3]}/deep/img-${i}.jpg`, data });
    }
    // 50 copies inside the tree, and 50 contents the server already has: 100 duplicates of 500.
    for (let i = 0; i < 50; i++) files.push({ rel: `copies/copy-${i}.jpg`, data: contents[i * 3]! });
    const alreadyThere = contents.slice(400, 450);
    const response = await admin.upload(alreadyThere.map((data, i) => ({ name: `there-${i}.jpg`, data })));
    expect(response.status).toBe(201);
    // Excluded by glob: never counted.
    for (let i = 0; i < 5; i++) files.push({ rel: `2000/a/scratch-${i}.tmp`, data: randomBytes(100) });
    for (const file of files) {
      await mkdir(path.dirname(path.join(tree, file.rel)), { recursive: true });
      await writeFile(path.join(tree, file.rel), file.data);
    }

    // Through a relay that counts bytes: duplicates must be skipped by the client, not by the server.
    const relay = await countingRelay(nook.url);
    const token = (
      JSON.parse(await readFile(path.join(home, 'config', 'nook', 'credentials.json'), 'utf8')) as {
        token: string;
      }
    ).token;
    const viaRelay = { NOOK_SERVER: relay.url, NOOK_TOKEN: token };
    const first = await runNook(
      ['upload', tree, '--exclude', '*.tmp', '--tus-threshold', '1', '--parallel', '4'],
      '',
      viaRelay,
    );
    expect(first.stdout).toContain('Uploaded:   400');
    expect(first.stdout).toContain('Duplicates: 100');
    expect(first.stdout).toContain('Failed:     0');
    expect(first.code).toBe(0);
    for (const data of contents) expect(await copiesOnServer(sha256(data))).toBe(1);
    const newBytes = contents.slice(0, 400).reduce((sum, data) => sum + data.length, 0);
    expect(relay.sent()).toBeGreaterThanOrEqual(newBytes);
    // Headers, multipart framing and hashes (about 100 KB): the copies in the tree (1.7 MB) never went.
    expect(relay.sent() - newBytes).toBeLessThan(150 * 1024);
    const afterFirst = relay.sent();

    const second = await runNook(['upload', tree, '--exclude', '*.tmp'], '', viaRelay);
    // One hash check of 500 hashes (about 30 KB) and none of the tree's 5.8 MB.
    expect(relay.sent() - afterFirst).toBeLessThan(60 * 1024);
    relay.close();
    expect(second.stdout).toContain('Uploaded:   0');
    expect(second.stdout).toContain('Duplicates: 500');
    expect(second.code).toBe(0);
    expect(await nook.orm.em.fork().count(Asset, {})).toBe(450);
  });

  it('names each failure with its reason and exits non-zero', async () => {
    const dir = path.join(home, 'bad');
    await mkdir(dir, { recursive: true });
    await writeFile(path.join(dir, 'huge.bin'), randomBytes(49 * 1024 * 1024));
    await writeFile(path.join(dir, 'fine.txt'), randomBytes(64));
    const run = await runNook(['upload', dir, path.join(home, 'missing')]);
    expect(run.code).toBe(1);
    expect(run.stdout).toContain('Uploaded:   1');
    expect(run.stdout).toContain('Failed:     2');
    expect(run.stdout).toMatch(/huge\.bin: 413 Maximum size exceeded/);
    expect(run.stdout).toMatch(/missing: no such file or folder/);
  });

  it('watch: killed mid-upload and restarted, it loses and duplicates nothing', async () => {
    const dir = path.join(home, 'camera');
    await mkdir(dir, { recursive: true });
    const big = randomBytes(40 * 1024 * 1024);
    await writeFile(path.join(dir, 'video.mp4'), big);
    const small = Array.from({ length: 20 }, () => randomBytes(2000));
    for (const [i, data] of small.entries()) await writeFile(path.join(dir, `img-${i}.jpg`), data);
    const state = path.join(home, 'watch-state.json');
    const args = [
      'watch',
      dir,
      '--state',
      state,
      '--stable',
      '1',
      '--tus-threshold',
      '1',
      '--chunk-size',
      '1',
    ];

    const relay = await slowRelay(nook.url, 8 * 1024 * 1024);
    const token = (
      JSON.parse(await readFile(path.join(home, 'config', 'nook', 'credentials.json'), 'utf8')) as {
        token: string;
      }
    ).token;
    const first = spawnNook(args, { NOOK_SERVER: relay.url, NOOK_TOKEN: token });
    const tusDir = path.join(nook.dataDir.tmp, 'tus');
    // Kill it while the big file is on its way: part of it is on the server, not all.
    await eventually(async () => {
      const names = await readdir(tusDir).catch(() => []);
      for (const name of names.filter((n) => !n.endsWith('.json'))) {
        const { size } = await stat(path.join(tusDir, name));
        if (size > 4 * 1024 * 1024 && size < big.length) return true;
      }
      return false;
    }, 60_000);
    first.child.kill('SIGKILL');
    await first.done;
    expect(await copiesOnServer(sha256(big))).toBe(0);

    // Same server address as before, so the stored upload URL applies and the upload resumes.
    const second = spawnNook(args, { NOOK_SERVER: relay.url, NOOK_TOKEN: token });
    await eventually(async () => (await copiesOnServer(sha256(big))) === 1, 60_000);
    // New files while it runs go up too, once stable.
    const later = randomBytes(3000);
    await writeFile(path.join(dir, 'later.jpg'), later);
    await eventually(async () => (await copiesOnServer(sha256(later))) === 1, 30_000);
    for (const data of small) expect(await copiesOnServer(sha256(data))).toBe(1);
    second.child.kill('SIGTERM');
    expect((await second.done).code).toBe(0);
    relay.close();

    // The big file resumed (a fresh upload would have left the first one's partial behind) and is whole.
    const asset = await nook.orm.em.fork().findOneOrFail(Asset, { sha256: sha256(big) });
    const original = await admin.fetch(`/api/assets/${asset.id}/original`);
    expect(sha256(Buffer.from(await original.arrayBuffer()))).toBe(sha256(big));
    expect((await readdir(tusDir)).filter((name) => !name.endsWith('.json'))).toEqual([]);
    // Nothing the first run finished was sent again.
    const uploadedBy = (output: string) => [...output.matchAll(/ uploaded (.+)$/gm)].map((match) => match[1]);
    const again = uploadedBy(second.stdout()).filter((file) => uploadedBy(first.stdout()).includes(file));
    expect(again).toEqual([]);

    // A restart with nothing new sends nothing.
    const third = spawnNook(args);
    await eventually(async () => third.stdout().includes('watching'), 20_000);
    await new Promise((resolve) => setTimeout(resolve, 2500));
    third.child.kill('SIGTERM');
    const thirdRun = await third.done;
    expect(thirdRun.stdout).not.toMatch(/ (uploaded|duplicate) /);
  }, 180_000);

  it('watch stops when its token is refused, remembering nothing about files, and sends them with a good one', async () => {
    const readOnly = await admin.mutate<{ token: string }>('auth.createToken', {
      name: 'read only',
      scopes: ['read'],
    });
    const good = await admin.mutate<{ id: string; token: string }>('auth.createToken', {
      name: 'laptop',
      scopes: ['read', 'upload'],
    });
    const dir = path.join(home, 'refused');
    await mkdir(dir, { recursive: true });
    const data = randomBytes(4000);
    await writeFile(path.join(dir, 'kept.jpg'), data);
    const state = path.join(home, 'refused.json');
    const args = ['watch', dir, '--state', state, '--stable', '1'];

    const refused = await runNook(args, '', { NOOK_SERVER: nook.url, NOOK_TOKEN: readOnly.token });
    expect(refused.code).toBe(77);
    expect(refused.stderr).toMatch(/the token was refused — run nook login \(403: .*upload scope/);
    expect(refused.stdout).not.toMatch(/not retried until the file changes/);
    expect(JSON.parse(await readFile(state, 'utf8'))).toEqual({});

    // Revoked while it runs: the next round is refused, and the new file is not remembered as sent.
    const accepted = spawnNook(args, { NOOK_SERVER: nook.url, NOOK_TOKEN: good.token });
    await eventually(async () => (await copiesOnServer(sha256(data))) === 1, 30_000);
    await eventually(async () => accepted.stdout().includes('kept.jpg'), 10_000);
    await admin.mutate('auth.revokeToken', { id: good.id });
    await writeFile(path.join(dir, 'after-revoke.jpg'), randomBytes(4000));
    const guard = setTimeout(() => accepted.child.kill('SIGKILL'), 30_000);
    const run = await accepted.done.finally(() => clearTimeout(guard));
    expect(run.code).toBe(77);
    expect(run.stderr).toContain('the token was refused — run nook login (401');
    const remembered = JSON.parse(await readFile(state, 'utf8')) as Record<string, unknown>;
    expect(Object.keys(remembered)).toEqual([path.join(dir, 'kept.jpg')]);
  }, 120_000);

  it('upload and watch send again a file whose stored original was lost from the server', async () => {
    const { token } = await admin.mutate<{ token: string }>('auth.createToken', {
      name: 'lost originals',
      scopes: ['read', 'upload'],
    });
    const clientEnv = { NOOK_SERVER: nook.url, NOOK_TOKEN: token };
    const loseOriginal = async (hash: string) => {
      const asset = await nook.orm.em
        .fork()
        .findOneOrFail(Asset, { sha256: hash, deletedAt: null }, { populate: ['library'] });
      await rm(path.join(nook.dataDir.resolveLibraryRoot(asset.library.getEntity().rootPath), asset.path));
      return asset.id;
    };
    const downloads = async (id: string, data: Buffer) => {
      const response = await admin.fetch(`/api/assets/${id}/original`);
      return response.status === 200 && Buffer.from(await response.arrayBuffer()).equals(data);
    };

    const dir = path.join(home, 'lost');
    await mkdir(dir, { recursive: true });
    const data = randomBytes(5000);
    await writeFile(path.join(dir, 'gone.jpg'), data);
    expect((await runNook(['upload', dir], '', clientEnv)).code).toBe(0);
    const id = await loseOriginal(sha256(data));
    // The server no longer claims the file, so a second run sends it and the original is back.
    const again = await runNook(['upload', dir], '', clientEnv);
    expect(again.stdout).toMatch(/Uploaded: +1/);
    expect(await downloads(id, data)).toBe(true);

    // nook watch remembers the file as sent; restarted after the loss, it sends it again.
    const state = path.join(home, 'lost.json');
    const args = ['watch', dir, '--state', state, '--stable', '1'];
    const first = spawnNook(args, clientEnv);
    await eventually(async () => first.stdout().includes('gone.jpg'), 30_000);
    first.child.kill('SIGTERM');
    await first.done;
    expect(JSON.parse(await readFile(state, 'utf8'))).toHaveProperty([path.join(dir, 'gone.jpg'), 'sha256']);
    await loseOriginal(sha256(data));
    const second = spawnNook(args, clientEnv);
    try {
      await eventually(async () => downloads(id, data), 30_000);
      expect(second.stdout()).toMatch(/1 file\(s\) sent before were lost by the server/);
    } finally {
      second.child.kill('SIGTERM');
      await second.done;
    }

    // Deleted in the dashboard, it stays deleted: a restarted watcher does not bring it back.
    await admin.mutate('assets.delete', { ids: [id] });
    const third = spawnNook(args, clientEnv);
    await eventually(async () => third.stdout().includes('watching'), 20_000);
    await new Promise((resolve) => setTimeout(resolve, 2500));
    third.child.kill('SIGTERM');
    expect((await third.done).stdout).not.toMatch(/lost by the server| uploaded /);
    expect(await copiesOnServer(sha256(data))).toBe(0);
  }, 120_000);

  it('watch survives the server being down and catches up when it returns', async () => {
    // A relay on a fixed port stands in for the server: closed is "down", listening again is "back".
    const relay = net.createServer((client) => {
      const upstream = net.connect(Number(new URL(nook.url).port), '127.0.0.1');
      client.pipe(upstream).pipe(client);
      client.on('error', () => upstream.destroy());
      upstream.on('error', () => client.destroy());
    });
    await new Promise<void>((resolve) => relay.listen(0, '127.0.0.1', resolve));
    const port = (relay.address() as net.AddressInfo).port;
    const { token } = await admin.mutate<{ token: string }>('auth.createToken', {
      name: 'offline laptop',
      scopes: ['read', 'upload'],
    });
    const dir = path.join(home, 'offline');
    await mkdir(dir, { recursive: true });
    await new Promise<void>((resolve) => relay.close(() => resolve()));

    const watcher = spawnNook(['watch', dir, '--state', path.join(home, 'offline.json'), '--stable', '1'], {
      NOOK_SERVER: `http://127.0.0.1:${port}`,
      NOOK_TOKEN: token,
    });
    const data = randomBytes(5000);
    await writeFile(path.join(dir, 'while-down.jpg'), data);
    await eventually(async () => watcher.stdout().includes('will try again'), 30_000).catch(
      (error: Error) => {
        throw new Error(`${error.message}; nook watch said:\n${watcher.stdout()}${watcher.stderr()}`);
      },
    );
    expect(await copiesOnServer(sha256(data))).toBe(0);

    await new Promise<void>((resolve) => relay.listen(port, '127.0.0.1', resolve));
    try {
      await eventually(async () => (await copiesOnServer(sha256(data))) === 1, 90_000);
    } finally {
      watcher.child.kill('SIGTERM');
      await watcher.done;
      relay.close();
    }
  }, 180_000);
});
