// Walks a folder library with bounded parallelism, listing regular files with their size and mtime.
import { lstat, readdir } from 'node:fs/promises';
import path from 'node:path';
import type { PathFilter } from './exclusions';

export interface WalkedFile {
  /** Relative to the root, forward slashes. */
  path: string;
  size: number;
  mtimeMs: number;
}

export interface WalkResult {
  files: WalkedFile[];
  directories: number;
  /** Folders and files that could not be read, with the reason; the walk goes on without them. */
  errors: { path: string; reason: string }[];
}

/** Directories read at once: enough to hide a NAS's latency, few enough for an SD card. */
const DIRECTORY_CONCURRENCY = 8;
const STAT_CONCURRENCY = 32;

export async function walkLibrary(root: string, filter: PathFilter): Promise<WalkResult> {
  const result: WalkResult = { files: [], directories: 0, errors: [] };
  const pending: string[] = [''];
  let running = 0;

  const readDirectory = async (relative: string) => {
    const absolute = relative ? path.join(root, relative) : root;
    let entries;
    try {
      entries = await readdir(absolute, { withFileTypes: true });
    } catch (error) {
      // The root itself failing is the caller's business (an offline library), not a skipped folder.
      if (!relative) throw error;
      result.errors.push({ path: relative, reason: (error as Error).message });
      return;
    }
    result.directories += 1;
    const files: string[] = [];
    for (const entry of entries) {
      const child = relative ? `${relative}/${entry.name}` : entry.name;
      // Symlinks are not followed: they could lead out of the library or into a loop.
      if (entry.isDirectory()) {
        if (!filter.skipsDirectory(child)) pending.push(child);
      } else if (entry.isFile() && !filter.skipsFile(child)) {
        files.push(child);
      }
    }
    for (let i = 0; i < files.length; i += STAT_CONCURRENCY) {
      await Promise.all(
        files.slice(i, i + STAT_CONCURRENCY).map(async (file) => {
          try {
            const stats = await lstat(path.join(root, file));
            if (stats.isFile()) result.files.push({ path: file, size: stats.size, mtimeMs: stats.mtimeMs });
          } catch (error) {
            // Gone between listing and stat: it is simply not there any more.
            if ((error as NodeJS.ErrnoException).code !== 'ENOENT')
              result.errors.push({ path: file, reason: (error as Error).message });
          }
        }),
      );
    }
  };

  await new Promise<void>((resolve, reject) => {
    let failed = false;
    const next = () => {
      if (failed) return;
      while (running < DIRECTORY_CONCURRENCY && pending.length) {
        const relative = pending.pop()!;
        running += 1;
        readDirectory(relative).then(
          () => {
            running -= 1;
            next();
          },
          (error: unknown) => {
            failed = true;
            reject(error as Error);
          },
        );
      }
      if (running === 0 && pending.length === 0) resolve();
    };
    next();
  });
  return result;
}
