// A real network filesystem for tests and benches: a folder served by openssh-server on loopback, mounted with sshfs.
import { execFile, spawn, type ChildProcess } from 'node:child_process';
import { chmod, mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { createServer } from 'node:net';
import { tmpdir, userInfo } from 'node:os';
import path from 'node:path';
import { promisify } from 'node:util';

const execFileAsync = promisify(execFile);

export interface SshfsMount {
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
export async function mountSshfs(): Promise<SshfsMount | string> {
  const dir = await mkdtemp(path.join(tmpdir(), 'nook-sshfs-'));
  await chmod(dir, 0o755);
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
    for (let attempt = 0; ; attempt++) {
      const mounted = await execFileAsync('sshfs', [
        '-p',
        String(port),
        '-o',
        options,
        target,
        mountPoint,
      ]).then(
        () => true,
        (error: Error) => (attempt >= 50 ? Promise.reject(error) : false),
      );
      if (mounted) break;
      await new Promise((resolve) => setTimeout(resolve, 200));
    }
    return { dir, served, mountPoint, sshd };
  } catch (error) {
    sshd?.kill();
    await rm(dir, { recursive: true, force: true });
    return `no sshfs mount could be made here (${(error as Error).message.split('\n')[0]}); needs openssh-server, sshfs and /dev/fuse`;
  }
}

export async function unmountSshfs(mount: SshfsMount): Promise<void> {
  await execFileAsync('fusermount', ['-u', mount.mountPoint]).catch(() => undefined);
  mount.sshd.kill();
  await rm(mount.dir, { recursive: true, force: true });
}
