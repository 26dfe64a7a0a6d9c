// The target's own record of what it holds (path → size and hash), written atomically after each run.
import { mkdir, readFile, rm } from 'node:fs/promises';
import path from 'node:path';
import { syncDirectories, writeFileAtomic } from './copy';
import { BACKUP_FORMAT, TargetError, targetLayout } from './target';

export interface IndexEntry {
  size: number;
  sha256: string;
  /** Since when the file has been gone from Nook (only tracked when deletions are propagated). */
  goneSince?: string;
  /**
   * When verify found this copy damaged or missing. A run does not re-read copies it believes intact
   * (it checks their size only), so this is how bit rot it cannot see gets a fresh copy.
   */
  damaged?: string;
}

export type MirrorIndex = Map<string, IndexEntry>;

interface IndexFile {
  format: number;
  updatedAt: string;
  files: Record<string, IndexEntry>;
}

/** An empty index for a new target; refuses a target whose index is not one of ours. */
export async function readIndex(targetDir: string): Promise<MirrorIndex> {
  let text: string;
  try {
    text = await readFile(path.join(targetDir, targetLayout.index), 'utf8');
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ENOENT') return new Map();
    throw error;
  }
  let parsed: IndexFile;
  try {
    parsed = JSON.parse(text) as IndexFile;
  } catch {
    throw new TargetError(`the backup index in ${targetDir} is unreadable (not JSON)`);
  }
  if (parsed.format !== BACKUP_FORMAT)
    throw new TargetError(
      `the backup in ${targetDir} has format ${parsed.format}; this Nook reads ${BACKUP_FORMAT}`,
    );
  return new Map(Object.entries(parsed.files));
}

export async function writeIndex(targetDir: string, index: MirrorIndex): Promise<void> {
  const data: IndexFile = {
    format: BACKUP_FORMAT,
    updatedAt: new Date().toISOString(),
    files: Object.fromEntries(sorted([...index])),
  };
  await writeFileAtomic(
    path.join(targetDir, targetLayout.index),
    JSON.stringify(data),
    path.join(targetDir, targetLayout.partial),
  );
}

/**
 * Marks copies verify found damaged or missing, so the next backup run copies them again. The caller
 * holds the target's lock.
 */
export async function markDamaged(targetDir: string, rels: string[], at: Date): Promise<void> {
  if (rels.length === 0) return;
  const index = await readIndex(targetDir);
  for (const rel of rels) {
    const entry = index.get(rel);
    if (entry) entry.damaged ??= at.toISOString();
  }
  const partial = path.join(targetDir, targetLayout.partial);
  await mkdir(partial, { recursive: true });
  try {
    await writeIndex(targetDir, index);
    await syncDirectories([targetDir]);
  } finally {
    await rm(partial, { recursive: true, force: true });
  }
}

/** Entries by path; usually already in order (read sorted, new snapshots sort last), then not sorted again. */
function sorted(entries: [string, IndexEntry][]): [string, IndexEntry][] {
  for (let i = 1; i < entries.length; i++)
    if (entries[i - 1]![0] > entries[i]![0]) return entries.sort(([a], [b]) => (a < b ? -1 : 1));
  return entries;
}
