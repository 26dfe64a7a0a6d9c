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

export interface RootRefusal {
  /** Names no path, so it can be shown to the library's owner. */
  reason: string;
  /** Whether the administrator could allow it with NOOK_LIBRARY_ROOTS. */
  configurable: boolean;
}

/** Why a folder library's root (already a real path) may not be read, or null when it may. */
export async function libraryRootRefusal(dataDir: DataDir, realRoot: string): Promise<RootRefusal | null> {
  const never = (reason: string) => ({ reason, configurable: false });
  if (systemFolders.some((folder) => within(realRoot, folder)))
    return never('the folder is a system folder (/proc, /sys or /dev)');
  const data = await real(dataDir.root);
  if (within(realRoot, data)) return never("the folder lies inside Nook's data directory");
  if (within(data, realRoot)) return never("the folder contains Nook's data directory");
  if (dataDir.libraryRoots.length === 0)
    return { reason: 'no folder may be a library while NOOK_LIBRARY_ROOTS is empty', configurable: true };
  const allowed = await Promise.all(dataDir.libraryRoots.map(real));
  if (!allowed.some((root) => within(realRoot, root)))
    return {
      reason: 'the folder is not inside the folders the administrator allows (NOOK_LIBRARY_ROOTS)',
      configurable: true,
    };
  return null;
}
