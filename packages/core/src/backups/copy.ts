// Copying one file safely: to a temp name, hashed on the way, fsynced, read back, then renamed.
import { createHash, randomBytes } from 'node:crypto';
import { mkdir, open, rename, rm, stat } from 'node:fs/promises';
import path from 'node:path';
import { hashFile } from '../ingest/hash';

const CHUNK = 1024 * 1024;

/** A problem with this one file (it changed, it is gone, its content is not what Nook recorded). */
export class FileCopyError extends Error {
  override name = 'FileCopyError';
}

export interface CopiedFile {
  sha256: string;
  size: number;
}

export interface CopyOptions {
  /** The hash Nook recorded for the source; a copy whose content differs is refused. */
  expectedSha256?: string;
  /** Where the temp file is written: on the destination's filesystem, so the final rename is atomic. */
  partialDir: string;
  signal?: AbortSignal;
  throttle?: Throttle;
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
 * Copies `source` to `destination` so that the destination name only ever holds a complete,
 * verified file. A source whose size or mtime moves during the copy is reported as changed;
 * errors of the destination's filesystem (full, read-only) are thrown as they are, for the caller
 * to stop the run.
 */
export async function copyVerified(
  source: string,
  destination: string,
  options: CopyOptions,
): Promise<CopiedFile> {
  const before = await statSource(source);
  const temp = path.join(options.partialDir, `${randomBytes(8).toString('hex')}.part`);
  const hash = createHash('sha256');
  let size = 0;
  const input = await open(source, 'r').catch((error: unknown) => {
    throw sourceError(error, source);
  });
  try {
    const output = await open(temp, 'wx', 0o644);
    try {
      const buffer = Buffer.allocUnsafe(CHUNK);
      for (;;) {
        options.signal?.throwIfAborted();
        const { bytesRead } = await input.read(buffer, 0, CHUNK, null);
        if (bytesRead === 0) break;
        const chunk = buffer.subarray(0, bytesRead);
        await options.throttle?.take(bytesRead);
        hash.update(chunk);
        let written = 0;
        while (written < bytesRead) {
          written += (await output.write(chunk, written, bytesRead - written)).bytesWritten;
        }
        size += bytesRead;
      }
      await output.sync();
    } finally {
      await output.close();
    }
    const after = await statSource(source);
    if (after.size !== before.size || after.mtimeMs !== before.mtimeMs || size !== before.size)
      throw new FileCopyError('it changed while being copied; the next run copies it again');
    const sha256 = hash.digest('hex');
    if (options.expectedSha256 && sha256 !== options.expectedSha256)
      throw new FileCopyError(
        'its content no longer matches the hash Nook recorded (changed on disk since it was indexed)',
      );
    // Read back what the target's filesystem holds: a short write or a network share that lost data
    // shows here. The pages usually come from the cache, so the disk's surface is `nook backup
    // verify`'s to check (scheduled verify runs, or after a remount).
    const written = await hashFile(temp);
    if (written.sha256 !== sha256 || written.size !== size)
      throw new FileCopyError('the copy does not read back as written (target disk or connection error)');
    await mkdir(path.dirname(destination), { recursive: true });
    await rename(temp, destination);
    return { sha256, size };
  } catch (error) {
    await rm(temp, { force: true });
    throw error;
  } finally {
    await input.close();
  }
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

/** Flushes files written by others (SQLite's VACUUM INTO, copyFile) to the disk before they get a final name. */
export function syncFiles(files: Iterable<string>): Promise<void> {
  return fsyncEach(files, 'r+');
}

/** Makes renames and new entries in these folders durable (their metadata, not just the files). */
export function syncDirectories(dirs: Iterable<string>): Promise<void> {
  return fsyncEach(dirs, 'r');
}

async function fsyncEach(paths: Iterable<string>, flags: 'r' | 'r+'): Promise<void> {
  for (const entry of paths) {
    const handle = await open(entry, flags);
    try {
      await handle.sync();
    } finally {
      await handle.close();
    }
  }
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
    await mkdir(path.dirname(file), { recursive: true });
    await rename(temp, file);
  } catch (error) {
    await rm(temp, { force: true });
    throw error;
  }
}
