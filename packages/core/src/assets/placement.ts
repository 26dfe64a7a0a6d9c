// Putting an uploaded file into library/ and its row into the database, with no file left behind
// without a row when the process dies between the two.
import { link, readFile, readdir, rm, stat, writeFile } from 'node:fs/promises';
import path from 'node:path';
import type { EntityManager } from '@mikro-orm/sqlite';
import { Library } from '../libraries/library.entity';
import type { DataDir } from '../storage/data-dir';
import { Asset } from './asset.entity';
import { withSuffix } from './file-name';

/** What recording a placed file came to: done, or refused because another row holds that path or that content. */
export type Commit = 'done' | 'path-taken' | 'content-taken';

/** Written beside the temp file before it is linked into the library; removed once the row is in. */
interface PlacementNote {
  libraryId: string;
  path: string;
}

const NOTE_SUFFIX = '.placing';

const noteOf = (tempPath: string) => `${tempPath}${NOTE_SUFFIX}`;

/**
 * Links `tempPath` into `folder` of the library under `baseName` or the first free `name (n)`, and
 * calls `commit` to write the row. link(2) never replaces a file; a name that a row still holds (its
 * file gone) is passed over too. Before each link a note in tmp/ names the file about to appear, so
 * that a crash before the row commits leaves something `recoverPlacements` can undo. Returns the
 * place, or null when `commit` found the content already taken (the file is removed again). The temp
 * file is consumed once the row is in.
 */
export async function placeUpload(
  tempPath: string,
  library: { id: string },
  libraryRoot: string,
  folder: string,
  baseName: string,
  commit: (relativePath: string, name: string) => Promise<Commit>,
): Promise<{ relativePath: string; name: string } | null> {
  const note = noteOf(tempPath);
  try {
    for (let attempt = 0; ; attempt++) {
      const name = withSuffix(baseName, attempt);
      const relativePath = `${folder}/${name}`;
      const target = path.join(libraryRoot, relativePath);
      await writeFile(
        note,
        JSON.stringify({ libraryId: library.id, path: relativePath } satisfies PlacementNote),
      );
      try {
        await link(tempPath, target);
      } catch (error) {
        if ((error as NodeJS.ErrnoException).code === 'EEXIST') continue;
        throw error;
      }
      let outcome: Commit;
      try {
        outcome = await commit(relativePath, name);
      } catch (error) {
        await rm(target, { force: true });
        throw error;
      }
      if (outcome === 'done') {
        await rm(tempPath, { force: true });
        return { relativePath, name };
      }
      await rm(target, { force: true });
      if (outcome === 'content-taken') return null;
    }
  } finally {
    await rm(note, { force: true });
  }
}

/**
 * At start, before uploads are taken: undoes placements a dead process left half done. A noted file
 * that no row holds, and that is still the same file as the noted temp (so it is the upload's bytes,
 * not something else that took the name), is removed; so are the note and its temp, which nothing
 * will resume. Returns how many library files were removed.
 */
export async function recoverPlacements(em: EntityManager, dataDir: DataDir): Promise<number> {
  let removed = 0;
  for (const entry of await readdir(dataDir.tmp).catch(() => [] as string[])) {
    if (!entry.endsWith(NOTE_SUFFIX)) continue;
    const note = path.join(dataDir.tmp, entry);
    const tempPath = note.slice(0, -NOTE_SUFFIX.length);
    const placed = await readFile(note, 'utf8')
      .then((text) => JSON.parse(text) as PlacementNote)
      .catch(() => null);
    if (placed && (await removeIfUnrecorded(em, dataDir, placed, tempPath))) removed++;
    await rm(tempPath, { force: true });
    await rm(note, { force: true });
  }
  return removed;
}

async function removeIfUnrecorded(
  em: EntityManager,
  dataDir: DataDir,
  placed: PlacementNote,
  tempPath: string,
): Promise<boolean> {
  const library = await em.findOne(Library, { id: placed.libraryId, type: 'upload' });
  if (!library) return false;
  const root = dataDir.resolveLibraryRoot(library.rootPath);
  const file = path.resolve(root, ...placed.path.split('/'));
  // Only ever inside Nook's own library/ folder.
  if (!root.startsWith(dataDir.library + path.sep) || !file.startsWith(root + path.sep)) return false;
  if ((await em.count(Asset, { library, path: placed.path })) > 0) return false;
  const [placedFile, temp] = await Promise.all([
    stat(file).catch(() => null),
    stat(tempPath).catch(() => null),
  ]);
  if (!placedFile || !temp || placedFile.ino !== temp.ino || placedFile.dev !== temp.dev) return false;
  await rm(file, { force: true });
  return true;
}
