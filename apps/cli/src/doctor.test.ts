// `nook doctor` as a process: its exit code, and a library root that the user Nook runs as cannot read.
import { spawn } from 'node:child_process';
import { chmod, chown, mkdir, readdir, rm } from 'node:fs/promises';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { CLI_ACTOR, Library, UserService, openDatabase } from '@nook/core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { NOBODY, makeTempDir, queueDatabaseUrl, runnableByNobody } from '../../../test/harness';

const nookBin = fileURLToPath(new URL('../bin/nook.js', import.meta.url));

function doctor(env: NodeJS.ProcessEnv, uid?: number) {
  return new Promise<{ code: number | null; output: string }>((resolve) => {
    const child = spawn(process.execPath, [nookBin, 'doctor'], {
      env: { PATH: process.env.PATH, ...env },
      stdio: ['ignore', 'pipe', 'pipe'],
      ...(uid === undefined ? {} : { uid, gid: uid }),
    });
    let output = '';
    child.stdout.on('data', (chunk: Buffer) => (output += chunk.toString()));
    child.stderr.on('data', (chunk: Buffer) => (output += chunk.toString()));
    child.on('close', (code) => resolve({ code, output }));
  });
}

describe('nook doctor (command)', () => {
  let dataDir: string;
  let photos: string;

  beforeAll(async () => {
    dataDir = await makeTempDir('nook-doctor-cli-');
    photos = await makeTempDir('nook-doctor-photos-');
    await mkdir(path.join(dataDir, 'library'));
    const orm = await openDatabase(dataDir);
    try {
      const em = orm.em.fork();
      const owner = await new UserService(em).setUp(
        { username: 'admin', password: 'correct horse battery' },
        CLI_ACTOR,
      );
      em.create(Library, { name: 'Photos', type: 'folder', rootPath: photos, owner });
      await em.flush();
    } finally {
      await orm.close();
    }
  });

  afterAll(async () => {
    await rm(dataDir, { recursive: true, force: true });
    await rm(photos, { recursive: true, force: true });
  });

  it('prints each check and exits 0 when nothing fails', async () => {
    const { code, output } = await doctor({ NOOK_DATA_DIR: dataDir, NOOK_DATABASE_URL: queueDatabaseUrl() });
    expect(output).toMatch(/^ok {4}ffmpeg: /m);
    expect(output).toMatch(/^ok {4}library "Photos": .* is readable$/m);
    expect(output).toMatch(/^ok {4}queue database: PostgreSQL/m);
    expect(code, output).toBe(0);
  });

  // Root reads everything; the check matters for the nook user, so it runs as another user here.
  it.runIf(runnableByNobody(nookBin))(
    'fails, with the fix, for a library root the running user cannot read',
    async () => {
      for (const entry of [dataDir, ...(await readdir(dataDir)).map((name) => path.join(dataDir, name))]) {
        await chown(entry, NOBODY, NOBODY);
      }
      await chmod(photos, 0o700);
      const { code, output } = await doctor(
        { NOOK_DATA_DIR: dataDir, NOOK_DATABASE_URL: queueDatabaseUrl(), HOME: dataDir },
        NOBODY,
      );
      expect(output).toMatch(/^FAIL {2}library "Photos": .* is not readable by this user \(EACCES\)$/m);
      expect(output).toContain(`fix: mount it, then let the nook user read it: sudo setfacl -R -m u:nook:rX`);
      expect(output).toMatch(/^ok {4}data dir: /m);
      expect(code, output).toBe(1);
    },
  );
});
