// A backup target on disk: its layout, the checks before a run, and the lock that keeps runs apart.
import { randomBytes } from 'node:crypto';
import { hostname } from 'node:os';
import { open, readFile, rm, stat, unlink, utimes } from 'node:fs/promises';
import path from 'node:path';
import { NookError } from '../errors';

/** Inside a target: where each kind of file goes, relative to its root. */
export const targetLayout = {
  /** Marks a folder as a Nook backup and says which schedule writes it. */
  marker: 'NOOK-BACKUP.json',
  /** What the mirror holds (path → size, hash), so the next run copies only what changed. */
  index: 'index.json',
  lock: '.nook-backup.lock',
  /** Files being written; moved to their final name only once fsynced and verified. */
  partial: '.partial',
  /** Uploaded originals and derived files, laid out as in the data dir. */
  data: 'data',
  /** Watched libraries' originals, one folder per library id. */
  libraries: 'libraries',
  snapshots: 'snapshots',
} as const;

export const BACKUP_FORMAT = 1;

/** A failure of the target as a whole (missing, read-only, full): the run stops with this reason. */
export class TargetError extends Error {
  override name = 'TargetError';
}

/** Turns a filesystem error on the target into a sentence a person can act on. */
export function describeTargetError(error: unknown, targetDir: string): string {
  const code = (error as NodeJS.ErrnoException).code;
  switch (code) {
    case 'ENOENT':
      return `the target ${targetDir} is missing (is the disk unplugged or the share not mounted?)`;
    case 'EROFS':
    case 'SQLITE_READONLY':
      return `the target ${targetDir} is on a read-only filesystem`;
    case 'EACCES':
    case 'EPERM':
      return `Nook may not write to the target ${targetDir} (permission denied)`;
    case 'ENOSPC':
    case 'EDQUOT':
    case 'SQLITE_FULL':
      return `the target ${targetDir} is full`;
    case 'EIO':
      return `the target ${targetDir} reported an I/O error (failing disk or lost connection)`;
    case 'ENOTDIR':
      return `the target ${targetDir} is not a folder`;
    default:
      return `the target ${targetDir} failed: ${(error as Error).message}`;
  }
}

/** Error codes that mean the target itself is unusable, so carrying on file by file is pointless. */
export function isTargetWideError(error: unknown): boolean {
  const code = (error as NodeJS.ErrnoException).code;
  return ['EROFS', 'ENOSPC', 'EDQUOT', 'EIO', 'EACCES', 'EPERM', 'ENOENT'].includes(code ?? '');
}

export interface TargetCheck {
  /** Absolute, normalised. */
  targetDir: string;
  warnings: string[];
}

/**
 * Refuses a target that is missing, not a folder, not writable, or inside the data dir; warns when
 * it is on the same device as the data dir (one disk failure would take both copies).
 */
export async function checkTarget(targetDir: string, dataDir: string): Promise<TargetCheck> {
  if (!path.isAbsolute(targetDir))
    throw new NookError('BAD_REQUEST', 'the target must be an absolute path, e.g. /mnt/usb-backup/nook');
  const target = path.resolve(targetDir);
  const data = path.resolve(dataDir);
  if (target === data || target.startsWith(data + path.sep))
    throw new NookError('BAD_REQUEST', 'the target may not lie inside the data dir');
  if (data.startsWith(target + path.sep))
    throw new NookError('BAD_REQUEST', 'the target may not contain the data dir');
  let info;
  try {
    info = await stat(target);
  } catch (error) {
    throw new NookError('BAD_REQUEST', describeTargetError(error, target));
  }
  if (!info.isDirectory()) throw new NookError('BAD_REQUEST', `the target ${target} is not a folder`);
  const probe = path.join(target, `.nook-write-test-${randomBytes(6).toString('hex')}`);
  try {
    const handle = await open(probe, 'wx');
    await handle.close();
    await unlink(probe);
  } catch (error) {
    throw new NookError('BAD_REQUEST', describeTargetError(error, target));
  }
  const warnings: string[] = [];
  if (info.dev === (await stat(data)).dev)
    warnings.push(
      'the target is on the same disk as the data dir: a failure of that disk would lose both copies',
    );
  return { targetDir: target, warnings };
}

interface LockOwner {
  host: string;
  pid: number;
  runId: string;
  startedAt: string;
}

/** Runs this process is executing now: a lock or run record naming our own pid but none of these is stale. */
const runsInThisProcess = new Set<string>();

/** Records that this process is executing the run, until `untrackRun`. */
export function trackRun(runId: string): void {
  runsInThisProcess.add(runId);
}

export function untrackRun(runId: string): void {
  runsInThisProcess.delete(runId);
}

/** A held lock is touched this often, so a lock whose holder vanished is known by its age. */
const LOCK_HEARTBEAT_MS = 30_000;
/** A lock untouched this long belongs to nobody: its holder's host died, or was a container since recreated. */
const LOCK_STALE_MS = 10 * 60_000;

function processAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (error) {
    return (error as NodeJS.ErrnoException).code === 'EPERM';
  }
}

/**
 * Whether a run recorded as held by `host`/`pid` is still going. A container restarted by its
 * engine usually gets the same pid back, so our own pid only counts for runs we are executing.
 */
export function runStillGoing(host: string | null, pid: number | null, runId: string): boolean {
  if (host !== hostname() || pid === null) return true;
  if (pid === process.pid) return runsInThisProcess.has(runId);
  return processAlive(pid);
}

/**
 * Takes the target's lock for one run. A lock whose holder is gone (a dead process of this host, or
 * a lock no one has touched for ten minutes) is taken over; one held by a live run refuses the run.
 */
export async function lockTarget(targetDir: string, runId: string): Promise<() => Promise<void>> {
  const file = path.join(targetDir, targetLayout.lock);
  const owner: LockOwner = {
    host: hostname(),
    pid: process.pid,
    runId,
    startedAt: new Date().toISOString(),
  };
  for (let attempt = 0; attempt < 2; attempt++) {
    try {
      // Not synced: a lock cut short by a power cut is unreadable, and an unreadable lock is stale.
      const handle = await open(file, 'wx');
      await handle.writeFile(JSON.stringify(owner));
      await handle.close();
      const heartbeat = setInterval(() => {
        const now = new Date();
        utimes(file, now, now).catch(() => undefined);
      }, LOCK_HEARTBEAT_MS);
      heartbeat.unref();
      return async () => {
        clearInterval(heartbeat);
        await rm(file, { force: true });
      };
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code !== 'EEXIST') throw error;
    }
    let held: Partial<LockOwner> = {};
    let touchedAt = 0;
    try {
      touchedAt = (await stat(file)).mtimeMs;
      held = JSON.parse(await readFile(file, 'utf8')) as LockOwner;
    } catch {
      // Unreadable or half-written: whoever wrote it died before finishing the lock itself.
    }
    const stale =
      held.host === undefined ||
      Date.now() - touchedAt > LOCK_STALE_MS ||
      !runStillGoing(held.host, held.pid ?? null, held.runId ?? '');
    if (!stale)
      throw new TargetError(
        `another backup run is writing to ${targetDir} (process ${held.pid} on ${held.host}, since ${held.startedAt})`,
      );
    await rm(file, { force: true });
  }
  throw new TargetError(`could not take the lock of ${targetDir}`);
}
