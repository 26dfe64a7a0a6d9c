// Which folders Nook may read as libraries: inside a root the administrator allows, never its own data or the kernel's.
import { realpath } from 'node:fs/promises';
import path from 'node:path';
import type { DataDir } from '../storage/data-dir';

/** Pseudo-filesystems: a library there would serve other processes' memory, keys or devices. */
const systemFolders = ['/proc', '/sys', '/dev'];

/** Where to allow a folder, for messages to the administrator. */
export const libraryRootsHint =
  'set NOOK_LIBRARY_ROOTS (environment, the systemd environment file, or config.json in the data directory), or run `install.sh --library <folder>`';

const within = (child: string, parent: string): boolean => {
  const relative = path.relative(parent, child);
  return relative === '' || (!relative.startsWith('..') && !path.isAbsolute(relative));
};

/** The real path, or the path itself when it does not exist (yet). */
async function real(folder: string): Promise<string> {
  return realpath(folder).catch(() => path.resolve(folder));
}

/**
 * Why a folder library's root (already a real path) may not be read, or null when it may. The
 * reasons name no path, so they can be shown to the library's owner.
 */
export async function libraryRootRefusal(dataDir: DataDir, realRoot: string): Promise<string | null> {
  if (systemFolders.some((folder) => within(realRoot, folder)))
    return 'the folder is a system folder (/proc, /sys or /dev)';
  const data = await real(dataDir.root);
  if (within(realRoot, data)) return "the folder lies inside Nook's data directory";
  if (within(data, realRoot)) return "the folder contains Nook's data directory";
  if (dataDir.libraryRoots.length === 0)
    return 'no folder may be a library while NOOK_LIBRARY_ROOTS is empty';
  const allowed = await Promise.all(dataDir.libraryRoots.map(real));
  if (!allowed.some((root) => within(realRoot, root)))
    return 'the folder is not inside the folders the administrator allows (NOOK_LIBRARY_ROOTS)';
  return null;
}
