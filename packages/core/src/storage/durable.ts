// Before a client is told an upload is stored, what stores it reaches the disk, not only the OS cache.
import { open } from 'node:fs/promises';
import path from 'node:path';
import type { DataDir } from './data-dir';

async function sync(file: string, what: 'data' | 'all'): Promise<void> {
  let handle;
  try {
    handle = await open(file, 'r');
  } catch (error) {
    // No write-ahead log yet (or just checkpointed away): nothing of it to flush.
    if ((error as NodeJS.ErrnoException).code === 'ENOENT') return;
    throw error;
  }
  try {
    await (what === 'data' ? handle.datasync() : handle.sync());
  } finally {
    await handle.close();
  }
}

/**
 * Flushes stored originals (`files`), the folder entries that name them, and the metadata database's
 * write-ahead log holding their rows. A killed process loses none of these anyway; a power cut (the
 * OS losing its cache) could, since SQLite runs with synchronous = NORMAL. One flush of the log covers
 * every commit before it, so a request storing many files pays it once.
 */
export async function persistStored(dataDir: DataDir, files: readonly string[]): Promise<void> {
  const folders = [...new Set(files.map((file) => path.dirname(file)))];
  await Promise.all([
    ...files.map((file) => sync(file, 'data')),
    ...folders.map((folder) => sync(folder, 'all')),
    sync(`${dataDir.database}-wal`, 'data'),
  ]);
}
