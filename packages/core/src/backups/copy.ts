// Copying files safely: to a temp name, read back and checked, made durable, and only then renamed.
import { execFile } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { open, mkdir, rename, rm, statfs } from 'node:fs/promises';
import { availableParallelism } from 'node:os';
import path from 'node:path';
import { Worker } from 'node:worker_threads';
import type { SnapshotListing } from './manifest';

/** fsyncs in flight when each file has to be synced on its own. */
const FSYNC_CONCURRENCY = 8;
/**
 * From this many files and folders on, one syncfs is cheaper than an fsync each. Below it, an fsync
 * each: syncfs also waits for whatever else is dirty on that filesystem (the server's own writes when
 * the target shares its disk).
 */
const SYNCFS_FROM = 64;

/** A problem with this one file (it changed, it is gone, its content is not what Nook recorded). */
export class FileCopyError extends Error {
  override name = 'FileCopyError';
}

export interface CopiedFile {
  sha256: string;
  size: number;
}

export interface CopyJob {
  source: string;
  /**
   * The hash Nook recorded for the source (originals: hashed when stored or indexed): the copy must
   * read back as it, so the source is not hashed again. Null for derived files: the source is hashed
   * after the copy and must match.
   */
  expectedSha256: string | null;
  /** The size the source should have. */
  size: number;
}

export interface CommitMove {
  source: string;
  temp: string;
  destination: string;
  /** The size copied: an original no longer at it changed after its copy was read, and is dropped. */
  size: number;
}

export interface CopiedTemp extends CopiedFile {
  /** The copy, checked but not yet durable nor under its final name. */
  temp: string;
}

/** One file's copy: checked and in its temp file, or why not (a FileCopyError, or a target's error). */
export type CopyOutcome = CopiedTemp | FileCopyError | Error;

type WorkerOutcome =
  | CopiedTemp
  | { problem: string }
  | { aborted: true }
  | { error: { code?: string; message: string } }
  | { committed: true };

const PROBLEMS: Record<string, string> = {
  'source-missing': 'the original is no longer on disk',
  'source-denied': 'Nook may not read the original',
  'source-io': 'reading the original failed with an I/O error',
  changed: 'it changed while being copied; the next run copies it again',
  mismatch:
    'its content no longer matches the hash Nook recorded (changed on disk since it was indexed, or while being copied)',
  'read-back': 'the copy does not read back as written (target disk or connection error)',
};

function outcome(result: WorkerOutcome, signal?: AbortSignal): CopyOutcome | null {
  if ('problem' in result) return new FileCopyError(PROBLEMS[result.problem] ?? result.problem);
  if ('aborted' in result) return signal?.reason instanceof Error ? signal.reason : new Error('aborted');
  if ('error' in result) return Object.assign(new Error(result.error.message), { code: result.error.code });
  if ('committed' in result) return null;
  return result;
}

/**
 * Worker threads (copy-worker.js) that snapshot the database, copy files to temp names and read the
 * copies back, later rename them, and hash copies for verify. Each takes one request at a time; requests wait for a
 * free worker.
 */
export class CopyPool {
  private readonly idle: Worker[] = [];
  private readonly waiting: {
    request: unknown;
    resolve: (reply: unknown) => void;
    reject: (error: Error) => void;
    /** A message the worker posts before its reply (marked `early`). */
    early?: (message: unknown) => void;
  }[] = [];
  private readonly workers: Worker[] = [];
  /** How many worker threads it runs. */
  readonly size: number;
  /** Set to 1 when the run is aborted; the workers look at it between files and chunks. */
  private readonly aborted = new Int32Array(new SharedArrayBuffer(4));
  private readonly signal: AbortSignal | undefined;
  private failure: Error | null = null;
  private readonly abort = () => Atomics.store(this.aborted, 0, 1);
  private readonly workerData: object;

  /**
   * `size` workers: two on a machine with two cores or more (with the main thread's share that keeps
   * both busy), one on a single core, and one when the bytes read are capped (one shared rate).
   */
  constructor(
    options: {
      /** Where temp files go: on the destination's filesystem, so a rename can give them their final names. */
      tempDir?: string;
      bytesPerSecond?: number;
      signal?: AbortSignal;
    },
    size = options.bytesPerSecond ? 1 : Math.min(2, availableParallelism()),
  ) {
    this.signal = options.signal;
    this.size = size;
    this.workerData = {
      abort: this.aborted.buffer,
      tempDir: options.tempDir ?? null,
      bytesPerSecond: options.bytesPerSecond ?? 0,
    };
    options.signal?.addEventListener('abort', this.abort, { once: true });
  }

  /** Started when a request finds no worker free: a run with nothing to copy needs only one. */
  private spawn(): void {
    const worker = new Worker(new URL('./copy-worker.js', import.meta.url), { workerData: this.workerData });
    worker.on('error', (error) => this.fail(error));
    worker.on('exit', (code) => {
      if (code !== 0) this.fail(new Error(`a copy worker stopped (exit code ${code})`));
    });
    this.workers.push(worker);
    this.idle.push(worker);
  }

  /** Copies each job's source to a temp file and reads the copy back; not durable yet (see `syncFiles`). */
  async copy(jobs: CopyJob[]): Promise<CopyOutcome[]> {
    const reply = await this.send<{ outcomes: WorkerOutcome[] }>({ copy: jobs });
    return reply.outcomes.map((result) => outcome(result, this.signal)!);
  }

  /**
   * Snapshots the database at `database` into `file` (see copy-worker.js). `listing` comes as soon as
   * it is read, before the copy is written; `done` gives the copy's hash and size. Both fail with the
   * database's error (with its code: SQLITE_FULL, …).
   */
  snapshot(database: string, file: string): { listing: Promise<SnapshotListing>; done: Promise<CopiedFile> } {
    let listed!: (listing: SnapshotListing) => void;
    let unlisted!: (error: Error) => void;
    const listing = new Promise<SnapshotListing>((resolve, reject) => {
      listed = resolve;
      unlisted = reject;
    });
    const done = this.send<{ database: CopiedFile } | { error: { code?: string; message: string } }>(
      { snapshot: { database, file } },
      (message) => listed((message as { listing: SnapshotListing }).listing),
    ).then((reply) => {
      if ('error' in reply) throw Object.assign(new Error(reply.error.message), { code: reply.error.code });
      return reply.database;
    });
    // Settles the listing if the snapshot ends without one (an error before the tables were read).
    done.then(() => unlisted(new Error('the snapshot listed nothing')), unlisted);
    return { listing, done };
  }

  /**
   * Hashes files (reading at most one byte more than `size`): what each holds, or why it could not be
   * read (an error with its code).
   */
  async hash(files: { file: string; size: number }[]): Promise<(CopiedFile | Error)[]> {
    const reply = await this.send<{ outcomes: WorkerOutcome[] }>({ hash: files });
    return reply.outcomes.map((result) => outcome(result, this.signal) as CopiedFile | Error);
  }

  /**
   * Renames durable temp files to their final names, creating folders as needed. Returns what became
   * of each move (null: committed; fewer outcomes than moves when the target failed) and the folders
   * that gained entries.
   */
  async commit(moves: CommitMove[]): Promise<{ outcomes: (CopyOutcome | null)[]; touched: string[] }> {
    const reply = await this.send<{ results: WorkerOutcome[]; touched: string[] }>({ commit: moves });
    return { outcomes: reply.results.map((result) => outcome(result, this.signal)), touched: reply.touched };
  }

  async close(): Promise<void> {
    this.signal?.removeEventListener('abort', this.abort);
    this.fail(new Error('the copy pool is closed'));
    await Promise.all(this.workers.map((worker) => worker.terminate()));
  }

  private send<T>(request: unknown, early?: (message: unknown) => void): Promise<T> {
    if (this.failure) return Promise.reject(this.failure);
    return new Promise<T>((resolve, reject) => {
      this.waiting.push({
        request,
        resolve: resolve as (reply: unknown) => void,
        reject,
        ...(early && { early }),
      });
      this.dispatch();
    });
  }

  private dispatch(): void {
    if (this.waiting.length > this.idle.length && this.workers.length < this.size) this.spawn();
    while (this.idle.length && this.waiting.length) {
      const worker = this.idle.pop()!;
      const { request, resolve, reject, early } = this.waiting.shift()!;
      const onError = (error: Error) => {
        worker.off('message', onMessage);
        reject(error);
      };
      const onMessage = (reply: unknown) => {
        if ((reply as { early?: boolean }).early) {
          early?.(reply);
          worker.once('message', onMessage);
          return;
        }
        worker.off('error', onError);
        this.idle.push(worker);
        resolve(reply);
        this.dispatch();
      };
      worker.once('message', onMessage);
      worker.once('error', onError);
      worker.postMessage(request);
    }
  }

  private fail(error: Error): void {
    this.failure ??= error;
    for (const { reject } of this.waiting.splice(0)) reject(this.failure);
  }
}

/** Gives a durable, checked temp file its final name (creating the folders it needs). */
export async function commitTemp(temp: string, destination: string): Promise<void> {
  await mkdir(path.dirname(destination), { recursive: true });
  await rename(temp, destination);
}

/**
 * Copies one file so that the destination name only ever holds a complete, verified file: to a temp
 * name, read back and checked against `expectedSha256`, fsynced, renamed. Many files are better
 * copied in batches: see the backup runner.
 */
export async function copyVerified(
  pool: CopyPool,
  source: string,
  destination: string,
  expected: { sha256: string; size: number },
): Promise<CopiedFile> {
  const [copied] = await pool.copy([{ source, expectedSha256: expected.sha256, size: expected.size }]);
  if (copied instanceof Error) throw copied;
  const { temp, sha256, size } = copied!;
  try {
    await fsyncEach([temp], 'r+');
    await commitTemp(temp, destination);
  } catch (error) {
    await rm(temp, { force: true });
    throw error;
  }
  return { sha256, size };
}

/**
 * Local filesystems (by statfs magic) whose syncfs(2) writes back every dirty file and flushes the
 * device: ext2/3/4, XFS, Btrfs, F2FS, FAT, exFAT. On network shares and FUSE it may promise less than
 * an fsync of each file, so those get one fsync per file.
 */
const SYNCFS_FILESYSTEMS = new Set([0xef53, 0x58465342, 0x9123683e, 0xf2f52010, 0x4d44, 0x2011bab0]);
let syncCommandMissing = false;

/**
 * Makes files (and the folders holding new names) durable. For many, on a local filesystem, one
 * syncfs — coreutils' `sync --file-system` — does it at the cost of one flush, where an fsync each
 * costs a journal commit and a device flush per file; for a few, elsewhere, or when that fails, each
 * is fsynced (which also names the error of a failing disk).
 */
export async function syncFiles(
  onFilesystemOf: string,
  files: Iterable<string>,
  dirs: Iterable<string> = [],
): Promise<void> {
  const fileList = [...files];
  const dirList = [...dirs];
  if (fileList.length + dirList.length >= SYNCFS_FROM && (await syncFilesystem(onFilesystemOf))) return;
  await Promise.all([fsyncEach(fileList, 'r+'), fsyncEach(dirList, 'r')]);
}

/** Makes renames and new entries in these folders durable (their metadata, not just the files). */
export function syncDirectories(dirs: Iterable<string>): Promise<void> {
  return fsyncEach(dirs, 'r');
}

async function syncFilesystem(dir: string): Promise<boolean> {
  if (syncCommandMissing || !SYNCFS_FILESYSTEMS.has((await statfs(dir)).type)) return false;
  return new Promise((resolve) => {
    execFile('sync', ['-f', dir], (error) => {
      if ((error as NodeJS.ErrnoException | null)?.code === 'ENOENT') syncCommandMissing = true;
      resolve(error === null);
    });
  });
}

async function fsyncEach(paths: Iterable<string>, flags: 'r' | 'r+'): Promise<void> {
  const queue = [...paths];
  const worker = async () => {
    for (let entry = queue.pop(); entry !== undefined; entry = queue.pop()) {
      const handle = await open(entry, flags);
      try {
        await handle.sync();
      } finally {
        await handle.close();
      }
    }
  };
  await Promise.all(Array.from({ length: Math.min(FSYNC_CONCURRENCY, queue.length) }, worker));
}

/** Writes a small file atomically: temp name, fsync, rename. */
export async function writeFileAtomic(
  file: string,
  data: string | Buffer,
  partialDir: string,
): Promise<void> {
  const temp = path.join(partialDir, `${randomBytes(8).toString('hex')}.part`);
  const handle = await open(temp, 'wx', 0o644);
  try {
    await handle.writeFile(data);
    await handle.sync();
  } finally {
    await handle.close();
  }
  try {
    await commitTemp(temp, file);
  } catch (error) {
    await rm(temp, { force: true });
    throw error;
  }
}
