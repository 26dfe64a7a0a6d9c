// A real network filesystem: a folder served by openssh-server on loopback, mounted with sshfs, polled.
import { execFile, spawn, type ChildProcess } from 'node:child_process';
import { mkdir, rm, writeFile } from 'node:fs/promises';
import { createServer } from 'node:net';
import { userInfo } from 'node:os';
import path from 'node:path';
import { promisify } from 'node:util';
import { Asset, createLogger, detectFilesystem } from '@nook/core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  eventually,
  makeTempDir,
  setUpAdmin,
  startTestNook,
  type TestClient,
  type TestNook,
} from '../../../test/harness';
import { Ingest } from './ingest';

const execFileAsync = promisify(execFile);
const POLL_SECONDS = 2;
const STABILITY_MS = 300;

interface SshfsMount {
  dir: string;
  served: string;
  mountPoint: string;
  sshd: ChildProcess;
}

async function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const { port } = server.address() as { port: number };
      server.close(() => resolve(port));
    });
  });
}

/** Starts sshd on a free loopback port with its own keys and mounts its folder; a reason string when it cannot. */
async function mountSshfs(): Promise<SshfsMount | string> {
  const dir = await makeTempDir('nook-sshfs-');
  const served = path.join(dir, 'served');
  const mountPoint = path.join(dir, 'mnt');
  let sshd: ChildProcess | null = null;
  try {
    await Promise.all([mkdir(served), mkdir(mountPoint), mkdir('/run/sshd', { recursive: true })]);
    await execFileAsync('ssh-keygen', ['-q', '-t', 'ed25519', '-N', '', '-f', path.join(dir, 'host_key')]);
    await execFileAsync('ssh-keygen', ['-q', '-t', 'ed25519', '-N', '', '-f', path.join(dir, 'client_key')]);
    await execFileAsync('cp', [path.join(dir, 'client_key.pub'), path.join(dir, 'authorized_keys')]);
    const port = await freePort();
    const config = [
      `Port ${port}`,
      'ListenAddress 127.0.0.1',
      `HostKey ${path.join(dir, 'host_key')}`,
      `AuthorizedKeysFile ${path.join(dir, 'authorized_keys')}`,
      `PidFile ${path.join(dir, 'sshd.pid')}`,
      'PermitRootLogin prohibit-password',
      'PasswordAuthentication no',
      'StrictModes no',
      'UsePAM no',
      'Subsystem sftp internal-sftp',
    ].join('\n');
    await writeFile(path.join(dir, 'sshd_config'), `${config}\n`);
    sshd = spawn('/usr/sbin/sshd', ['-D', '-e', '-f', path.join(dir, 'sshd_config')], { stdio: 'ignore' });
    const target = `${userInfo().username}@127.0.0.1:${served}`;
    const options = [
      `IdentityFile=${path.join(dir, 'client_key')}`,
      'StrictHostKeyChecking=no',
      'UserKnownHostsFile=/dev/null',
      'BatchMode=yes',
      // sshfs caches listings for 20 s by default; a NAS mount meant for Nook should not.
      'dir_cache=no',
    ].join(',');
    // sshd needs a moment to listen; sshfs fails fast until it does.
    await eventually(
      () =>
        execFileAsync('sshfs', ['-p', String(port), '-o', options, target, mountPoint]).then(
          () => true,
          () => false,
        ),
      10_000,
    );
    return { dir, served, mountPoint, sshd };
  } catch (error) {
    sshd?.kill();
    await rm(dir, { recursive: true, force: true });
    return `no sshfs mount could be made here (${(error as Error).message.split('\n')[0]}); needs openssh-server, sshfs and /dev/fuse`;
  }
}

const mount = await mountSshfs();
const skipReason = typeof mount === 'string' ? mount : null;

describe('a folder library on an sshfs mount', () => {
  let nook: TestNook;
  let ingest: Ingest;
  let admin: TestClient;

  beforeAll(async () => {
    if (skipReason) return;
    nook = await startTestNook({ workers: false });
    ingest = await Ingest.start(
      {
        orm: nook.orm,
        queue: nook.queue,
        dataDir: nook.dataDir,
        logger: createLogger(process.env.NOOK_TEST_LOG_LEVEL ?? 'silent', false),
      },
      { rootCheckMs: 500, stabilityMs: STABILITY_MS },
    );
    admin = await setUpAdmin(nook.url);
  });

  afterAll(async () => {
    await ingest?.stop();
    await nook?.close();
    if (typeof mount === 'string') return;
    await execFileAsync('fusermount', ['-u', mount.mountPoint]).catch(() => undefined);
    mount.sshd.kill();
    await rm(mount.dir, { recursive: true, force: true });
  });

  it.skipIf(skipReason !== null)(
    `is polled, and picks up changes made on the server within the poll interval${skipReason ? ` — skipped: ${skipReason}` : ''}`,
    async () => {
      if (typeof mount === 'string') return;
      expect(await detectFilesystem(mount.mountPoint)).toBe('fuse.sshfs');
      await writeFile(path.join(mount.served, 'before.txt'), 'already there');
      const library = await admin.mutate<{ id: string }>('libraries.create', {
        name: 'nas',
        rootPath: mount.mountPoint,
        pollIntervalSeconds: POLL_SECONDS,
      });
      const rows = async () => {
        const assets = await nook.orm.em.fork().find(Asset, { library: library.id });
        return new Map(assets.map((asset) => [asset.path, asset]));
      };
      await eventually(async () => (await rows()).has('before.txt'));
      expect(await admin.query('libraries.status', { id: library.id })).toMatchObject({
        filesystem: 'fuse.sshfs',
        watchingWith: 'poll',
      });

      // Written straight into the served folder: the mount sees no inotify event for it.
      const budget = POLL_SECONDS * 1000 + STABILITY_MS + 2000;
      await mkdir(path.join(mount.served, 'new'));
      const started = Date.now();
      await writeFile(path.join(mount.served, 'new', 'arrived.txt'), 'from the NAS');
      await eventually(async () => (await rows()).has('new/arrived.txt'), budget + 5000);
      expect(Date.now() - started).toBeLessThan(budget);

      await rm(path.join(mount.served, 'before.txt'));
      await eventually(async () => (await rows()).get('before.txt')?.offlineAt, budget + 5000);
    },
  );
});
