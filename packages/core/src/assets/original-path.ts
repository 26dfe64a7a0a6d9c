// Where an asset's original is on disk, refusing any path that escapes its library root.
import { realpath } from 'node:fs/promises';
import path from 'node:path';
import { NookError } from '../errors';
import { libraryRootRefusal } from '../libraries/library-roots';
import type { DataDir } from '../storage/data-dir';
import type { Asset } from './asset.entity';

/**
 * The original's real path; refused when it, or a symlink on the way, leads outside the library
 * root, and for a folder library whose root is not (or no longer) one Nook may read: a library made
 * before roots were checked, or an allowed root taken off NOOK_LIBRARY_ROOTS, stops serving at once.
 * The asset's library must be loaded.
 */
export async function resolveOriginalPath(dataDir: DataDir, asset: Asset): Promise<string> {
  const library = asset.library.getEntity();
  try {
    const root = await realpath(dataDir.resolveLibraryRoot(library.rootPath));
    if (library.type === 'folder') {
      const refusal = await libraryRootRefusal(dataDir, root);
      if (refusal)
        throw new NookError('FORBIDDEN', `this library's folder may not be read: ${refusal.reason}`);
    }
    const file = await realpath(path.resolve(root, ...asset.path.split('/')));
    if (file.startsWith(root + path.sep)) return file;
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ENOENT')
      throw new NookError('NOT_FOUND', 'the original file is no longer on disk');
    throw error;
  }
  throw new NookError('FORBIDDEN', 'the original lies outside its library');
}
