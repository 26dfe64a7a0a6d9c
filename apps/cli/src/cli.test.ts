// `nook start` as a real process: start, serve, stop cleanly, restart on the same data dir, survive kill -9.
import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync } from 'node:fs';
import { rm } from 'node:fs/promises';
import { createServer } from 'node:net';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ADMIN, TestClient, dropSchema, eventually, makeTempDir, uniqueSchema } from '../../../test/harness';
import { makeJpeg } from '../../../test/media';

const nookBin = fileURLToPath(new URL('../bin/nook.js', import.meta.url));

async function freePort(): Promise<number> {
  return new Promise((resolve) => {
    const server = createServer().listen(0, '127.0.0.1', () => {
      const { port } = server.address() as { port: number };
      server.close(() => resolve(port));
    });
  });
}

interface Started {
  child: ChildProcess;
  url: string;
  client: TestClient;
  output: () => string;
}

describe('nook start', () => {
  let dataDir: string;
  let env: NodeJS.ProcessEnv;
  let schema: string | undefined;
  const running: ChildProcess[] = [];

  const start = async (extraEnv: NodeJS.ProcessEnv = {}): Promise<Started> => {
    const port = await freePort();
    const child = spawn(process.execPath, [nookBin, 'start'], {
      env: { ...env, NOOK_PORT: String(port), ...extraEnv },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    running.push(child);
    let output = '';
    child.stdout!.on('data', (chunk: Buffer) => (output += chunk.toString()));
    child.stderr!.on('data', (chunk: Buffer) => (output += chunk.toString()));
    const url = `http://127.0.0.1:${port}`;
    await eventually(async () => {
      if (child.exitCode !== null) throw new Error(`nook start exited with ${child.exitCode}: ${output}`);
      return (await fetch(`${url}/api/health`).catch(() => null))?.ok;
    }, 45_000).catch((error: Error) => {
      throw new Error(`${error.message}; nook start said:\n${output}`);
    });
    const client = new TestClient(url);
    await client.mutate('auth.login', ADMIN);
    return { child, url, client, output: () => output };
  };

  const exited = (child: ChildProcess) =>
    new Promise<number | null>((resolve) => {
      if (child.exitCode !== null || child.signalCode !== null) resolve(child.exitCode);
      else child.once('exit', (code) => resolve(code));
    });

  const upload = async (client: TestClient, name: string, data: Buffer) => {
    const response = await client.upload([{ name, data }]);
    expect(response.status).toBe(201);
    return ((await response.json()) as { id: string; duplicate: boolean }[])[0]!;
  };

  const readyAsset = (client: TestClient, id: string) =>
    eventually(async () => {
      const asset = await client.query<{ status: string; thumbnailUrl: string }>('assets.get', { id });
      return asset.status === 'ready' ? asset : undefined;
    });

  const runCli = (args: string[], stdin: string) =>
    new Promise<{ code: number | null; stdout: string; stderr: string }>((resolve) => {
      const child = spawn(process.execPath, [nookBin, ...args], { env, stdio: ['pipe', 'pipe', 'pipe'] });
      let stdout = '';
      let stderr = '';
      child.stdout.on('data', (chunk: Buffer) => (stdout += chunk.toString()));
      child.stderr.on('data', (chunk: Buffer) => (stderr += chunk.toString()));
      child.on('exit', (code) => resolve({ code, stdout, stderr }));
      child.stdin.end(stdin);
    });

  beforeAll(async () => {
    dataDir = await makeTempDir();
    env = { ...process.env, NOOK_DATA_DIR: dataDir, NOOK_HOST: '127.0.0.1', NOOK_LOG_LEVEL: 'info' };
    delete env.NOOK_DATABASE_URL;
    if (process.env.NOOK_TEST_DATABASE_URL) {
      schema = uniqueSchema('cli');
      env.NOOK_DATABASE_URL = process.env.NOOK_TEST_DATABASE_URL;
      env.NOOK_QUEUE_SCHEMA = schema;
    }
  });

  afterAll(async () => {
    for (const child of running)
      if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
    if (schema) await dropSchema(schema);
    await rm(dataDir, { recursive: true, force: true });
  });

  it('refuses a bad setting with one line naming it', async () => {
    const child = spawn(process.execPath, [nookBin, 'start'], {
      env: { ...env, NOOK_PORT: 'eighty' },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let stderr = '';
    child.stderr!.on('data', (chunk: Buffer) => (stderr += chunk.toString()));
    expect(await exited(child)).toBe(2);
    expect(stderr.trim().split('\n')).toHaveLength(1);
    expect(stderr).toContain('NOOK_PORT');
  });

  it('creates accounts with nook user create, the first one as administrator', async () => {
    const created = await runCli(
      ['user', 'create', ADMIN.username, '--display-name', 'Admin'],
      `${ADMIN.password}\n`,
    );
    expect(created).toMatchObject({ code: 0, stdout: 'created admin admin\n' });
    expect(await runCli(['user', 'create', 'kid'], 'short\n')).toMatchObject({
      code: 1,
      stderr: expect.stringContaining('at least 8'),
    });
    expect(await runCli(['user', 'create', 'kid'], 'kid password\n')).toMatchObject({
      code: 0,
      stdout: 'created member kid\n',
    });
    expect((await runCli(['user', 'list'], '')).stdout).toBe('admin\tadmin\tAdmin\nkid\tmember\tkid\n');
  });

  it(
    'serves uploads with thumbnails, stops cleanly on SIGTERM, and keeps everything across a restart',
    { timeout: 180_000 },
    async () => {
      const first = await start();
      const jpeg = await makeJpeg({ seed: '77aa33' });
      const asset = await upload(first.client, 'first.jpg', jpeg);
      const ready = await readyAsset(first.client, asset.id);
      expect((await first.client.fetch(ready.thumbnailUrl)).status).toBe(200);

      first.child.kill('SIGTERM');
      expect(await exited(first.child)).toBe(0);
      if (!schema) {
        expect(existsSync(path.join(dataDir, 'pg', 'postmaster.pid'))).toBe(false);
        expect(existsSync(path.join(dataDir, 'pg.owner'))).toBe(false);
      }

      const second = await start();
      await readyAsset(second.client, asset.id);
      expect(await upload(second.client, 'again.jpg', jpeg)).toMatchObject({ id: asset.id, duplicate: true });
      second.child.kill('SIGTERM');
      expect(await exited(second.child)).toBe(0);
    },
  );

  it('comes back cleanly after kill -9', { timeout: 180_000 }, async () => {
    const victim = await start();
    const before = await upload(victim.client, 'before-crash.jpg', await makeJpeg({ seed: '115599' }));
    await readyAsset(victim.client, before.id);
    victim.child.kill('SIGKILL');
    await exited(victim.child);

    const revived = await start();
    expect(revived.output()).not.toContain('"level":50');
    if (!schema) expect(revived.output()).toContain('left running by a previous Nook');
    await readyAsset(revived.client, before.id);
    const after = await upload(revived.client, 'after-crash.jpg', await makeJpeg({ seed: '553311' }));
    await readyAsset(revived.client, after.id);
    revived.child.kill('SIGTERM');
    expect(await exited(revived.child)).toBe(0);
  });
});
