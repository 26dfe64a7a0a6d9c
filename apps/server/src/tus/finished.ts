// What outlives a finished tus upload's bytes: its answer, for a client whose last response was lost.
import { createHash } from 'node:crypto';
import { mkdir, readFile, readdir, rename, rm, stat, writeFile } from 'node:fs/promises';
import path from 'node:path';

/** How a finished upload is answered: its length and what became of it (the asset headers). */
export interface FinishedUpload {
  size: number;
  headers: Record<string, string>;
}

/**
 * The id of the asset a tus upload makes, derived from the upload's id (128 random bits), so a
 * completion replayed after a crash finds the row an earlier attempt wrote instead of making another.
 * Shaped as a version-4 UUID like every other asset id.
 */
export function assetIdOfUpload(uploadId: string): string {
  const hex = createHash('sha256').update(`nook-tus-upload:${uploadId}`).digest('hex');
  const variant = (8 | (parseInt(hex[16]!, 16) & 3)).toString(16);
  return `${hex.slice(0, 8)}-${hex.slice(8, 12)}-4${hex.slice(13, 16)}-${variant}${hex.slice(17, 20)}-${hex.slice(20, 32)}`;
}

/**
 * One small JSON file per finished upload under tmp/tus-done/, kept until the upload expiry: a tus
 * client that did not get the last PATCH's answer asks HEAD, and must hear "complete, and this is
 * the asset" rather than 404 (which makes it send the whole file again). Outside tus's directory so
 * tus's own listing and the quota's count of unfinished uploads never see it.
 */
export class FinishedUploads {
  constructor(private readonly directory: string) {}

  async get(id: string): Promise<FinishedUpload | null> {
    try {
      return JSON.parse(await readFile(this.file(id), 'utf8')) as FinishedUpload;
    } catch {
      return null;
    }
  }

  /** Written whole or not at all (rename), so a crash never leaves half a record to answer with. */
  async put(id: string, record: FinishedUpload): Promise<void> {
    await mkdir(this.directory, { recursive: true });
    const temp = `${this.file(id)}.${process.pid}.tmp`;
    await writeFile(temp, JSON.stringify(record));
    await rename(temp, this.file(id));
  }

  /** Removes records (and leftovers of cut writes) older than `maxAgeMs`; returns how many. */
  async expire(maxAgeMs: number): Promise<number> {
    return removeOlderThan(this.directory, maxAgeMs, () => true);
  }

  private file(id: string): string {
    return path.join(this.directory, `${id}.json`);
  }
}

/**
 * Deletes the files of `directory` (not its folders) whose name passes `select` and whose last write
 * is older than `maxAgeMs`. Age by mtime: a file still being written is never that old.
 */
export async function removeOlderThan(
  directory: string,
  maxAgeMs: number,
  select: (name: string) => boolean,
): Promise<number> {
  const cutoff = Date.now() - maxAgeMs;
  let removed = 0;
  for (const name of await readdir(directory).catch(() => [] as string[])) {
    if (!select(name)) continue;
    const file = path.join(directory, name);
    const info = await stat(file).catch(() => null);
    if (!info?.isFile() || info.mtimeMs >= cutoff) continue;
    await rm(file, { force: true });
    removed++;
  }
  return removed;
}
