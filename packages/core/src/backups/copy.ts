// Copying files safely: to a temp name, read back and checked, made durable, and only then renamed.
import { execFile } from 'node:child_process';
import { createHash, randomBytes } from 'node:crypto';
import { constants } from 'node:fs';
import { access, copyFile, mkdir, open, rename, rm, stat, statfs } from 'node:fs/promises';
import path from 'node:path';

/** Node's SHA-256 keeps up with the disk only when fed about 1 MiB at a time. */
export const COPY_BUFFER_SIZE = 1024 * 1024;
/** From this size on a file is copied chunk by chunk, so an abort takes effect within it. */
const WHOLE_FILE_LIMIT = 64 * COPY_BUFFER_SIZE;
/** fsyncs in flight when each file has to be synced on its own. */
const FSYNC_CONCURRENCY = 8;

/** A problem with this one file (it changed, it is gone, its content is not what Nook recorded). */
export class FileCopyError extends Error {
  override name = 'FileCopyError';
}

export interface CopiedFile {
  sha256: string;
  size: number;
}

export interface CopiedTemp extends CopiedFile {
  /** The copy, complete and checked, but not yet durable nor under its final name. */
  temp: string;
}

export interface CopyOptions {
  /** The hash Nook recorded for the source; a copy whose content differs is refused. */
  expectedSha256?: string;
  /** The size the source should have; big files are copied in chunks so an abort is not held up. */
  size?: number;
  /** Where the temp file is written: on the destination's filesystem, so the final rename is atomic. */
  partialDir: string;
  signal?: AbortSignal;
  throttle?: Throttle;
  /** A buffer of COPY_BUFFER_SIZE this copy may use (one per concurrent copy spares an allocation per file). */
  buffer?: Buffer;
}

/** Caps the bytes per second read by all the copies sharing it (a Pi's USB bus serves the server too). */
export class Throttle {
  private readonly startedAt = Date.now();
  private bytes = 0;

  constructor(private readonly bytesPerSecond: number) {}

  async take(bytes: number): Promise<void> {
    this.bytes += bytes;
    const due = this.startedAt + (this.bytes / this.bytesPerSecond) * 1000;
    const wait = due - Date.now();
    if (wait > 0) await new Promise((resolve) => setTimeout(resolve, wait));
  }
}

/**
 * Copies `source` to a new temp file in `partialDir` and reads the copy back. With `expectedSha256`
 * (originals: Nook hashed them when it stored or indexed them) the copy must hash to it, so the source
 * is not hashed again; without it (derived files) the source is hashed after the copy and must match.
 * The copy is not durable yet: see `syncFiles`, then `commitTemp`.
 */
export async function copyToTemp(source: string, options: CopyOptions): Promise<CopiedTemp> {
  const buffer = options.buffer ?? Buffer.allocUnsafe(COPY_BUFFER_SIZE);
  const temp = path.join(options.partialDir, `${randomBytes(8).toString('hex')}.part`);
  try {
    if (options.throttle || (options.size ?? 0) >= WHOLE_FILE_LIMIT)
      await copyInChunks(source, temp, buffer, options);
    else await copyWhole(source, temp);
    // Read back what the target's filesystem holds: a short write or a network share that lost data
    // shows here. The pages usually come from the cache, so the disk's surface is `nook backup
    // verify`'s to check (scheduled verify runs, or after a remount).
    const written = await hashWith(temp, buffer, options.signal);
    if (options.expectedSha256 !== undefined) {
      if (written.sha256 !== options.expectedSha256)
        throw await explainMismatch(source, options.expectedSha256, buffer);
      // A writer that appended or truncated after the copy: the copy is what Nook recorded, but the
      // original is no longer that, and a later run should take it up once it is indexed again.
      if ((await statSource(source)).size !== written.size) throw changedWhileCopied();
    } else {
      const original = await hashWith(source, buffer, options.signal).catch((error: unknown) => {
        throw sourceError(error, source);
      });
      if (original.sha256 !== written.sha256 || original.size !== written.size) throw changedWhileCopied();
    }
    return { temp, ...written };
  } catch (error) {
    await rm(temp, { force: true });
    throw error;
  }
}

/** Gives a durable, checked temp file its final name (creating the folders it needs). */
export async function commitTemp(temp: string, destination: string): Promise<void> {
  await mkdir(path.dirname(destination), { recursive: true });
  await rename(temp, destination);
}

/**
 * Copies one file so that the destination name only ever holds a complete, verified file: to a temp
 * name, read back, fsynced, renamed. Many files are better copied with `copyToTemp`, synced together
 * and then committed.
 */
export async function copyVerified(
  source: string,
  destination: string,
  options: CopyOptions,
): Promise<CopiedFile> {
  const copied = await copyToTemp(source, options);
  try {
    await fsyncEach([copied.temp], 'r+');
    await commitTemp(copied.temp, destination);
  } catch (error) {
    await rm(copied.temp, { force: true });
    throw error;
  }
  return { sha256: copied.sha256, size: copied.size };
}

/** copy_file_range(2) through libuv: the kernel copies, no bytes pass through JavaScript. */
async function copyWhole(source: string, temp: string): Promise<void> {
  try {
    await copyFile(source, temp, constants.COPYFILE_EXCL);
  } catch (error) {
    // copyFile opens both ends: a source Nook cannot read is that file's problem, not the target's.
    await access(source, constants.R_OK).catch((sourceFault: unknown) => {
      throw sourceError(sourceFault, source);
    });
    throw error;
  }
}

async function copyInChunks(source: string, temp: string, buffer: Buffer, options: CopyOptions) {
  const input = await open(source, 'r').catch((error: unknown) => {
    throw sourceError(error, source);
  });
  try {
    const output = await open(temp, 'wx', 0o644);
    try {
      for (;;) {
        options.signal?.throwIfAborted();
        const { bytesRead } = await input.read(buffer, 0, buffer.length, null);
        if (bytesRead === 0) break;
        await options.throttle?.take(bytesRead);
        let written = 0;
        while (written < bytesRead)
          written += (await output.write(buffer, written, bytesRead - written)).bytesWritten;
      }
    } finally {
      await output.close();
    }
  } finally {
    await input.close();
  }
}

async function hashWith(file: string, buffer: Buffer, signal?: AbortSignal): Promise<CopiedFile> {
  const handle = await open(file, 'r');
  try {
    const hash = createHash('sha256');
    let size = 0;
    for (;;) {
      signal?.throwIfAborted();
      const { bytesRead } = await handle.read(buffer, 0, buffer.length, null);
      if (bytesRead === 0) break;
      hash.update(buffer.subarray(0, bytesRead));
      size += bytesRead;
    }
    return { sha256: hash.digest('hex'), size };
  } finally {
    await handle.close();
  }
}

/** Whose fault a copy that does not hash as recorded is: the source's content, or the target's. */
async function explainMismatch(source: string, expected: string, buffer: Buffer): Promise<FileCopyError> {
  const original = await hashWith(source, buffer).catch(() => null);
  if (original?.sha256 === expected)
    return new FileCopyError('the copy does not read back as written (target disk or connection error)');
  return new FileCopyError(
    'its content no longer matches the hash Nook recorded (changed on disk since it was indexed, or while being copied)',
  );
}

function changedWhileCopied(): FileCopyError {
  return new FileCopyError('it changed while being copied; the next run copies it again');
}

async function statSource(source: string) {
  try {
    return await stat(source);
  } catch (error) {
    throw sourceError(error, source);
  }
}

function sourceError(error: unknown, source: string): Error {
  const code = (error as NodeJS.ErrnoException).code;
  if (code === 'ENOENT') return new FileCopyError('the original is no longer on disk');
  if (code === 'EACCES' || code === 'EPERM') return new FileCopyError('Nook may not read the original');
  if (code === 'EIO') return new FileCopyError(`reading ${source} failed with an I/O error`);
  return error as Error;
}

/**
 * Local filesystems (by statfs magic) whose syncfs(2) writes back every dirty file and flushes the
 * device: ext2/3/4, XFS, Btrfs, F2FS, FAT, exFAT. On network shares and FUSE it may promise less than
 * an fsync of each file, so those get one fsync per file.
 */
const SYNCFS_FILESYSTEMS = new Set([0xef53, 0x58465342, 0x9123683e, 0xf2f52010, 0x4d44, 0x2011bab0]);
let syncCommandMissing = false;

/**
 * Makes files (and the folders holding new names) durable. On a local filesystem one syncfs —
 * coreutils' `sync --file-system` — does it for thousands of files at the cost of one flush, where an
 * fsync each costs a journal commit and a device flush per file; elsewhere, or when that fails, each
 * is fsynced (which also names the error of a failing disk).
 */
export async function syncFiles(
  onFilesystemOf: string,
  files: Iterable<string>,
  dirs: Iterable<string> = [],
): Promise<void> {
  if (await syncFilesystem(onFilesystemOf)) return;
  await Promise.all([fsyncEach(files, 'r+'), fsyncEach(dirs, 'r')]);
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
