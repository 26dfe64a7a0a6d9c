// Verifying a backup: re-hash a sample (or all) of its files against its index and report bit rot.
import { randomInt } from 'node:crypto';
import path from 'node:path';
import type { BackupFileError } from './backup-run.entity';
import { CopyPool, type CopiedFile } from './copy';
import { readIndex, type IndexEntry } from './mirror-index';
import { TargetError, describeTargetError } from './target';
import { stat } from 'node:fs/promises';

export interface VerifyOptions {
  /** Percent of the files to re-hash, picked at random; 100 checks everything. */
  samplePercent: number;
  signal?: AbortSignal | undefined;
  onProgress?: (done: number, total: number, bytes: number, current: string | null) => void;
}

export interface VerifyReport {
  /** Files the backup holds. */
  total: number;
  checked: number;
  bytesChecked: number;
  /** Damaged (content differs from what was written) or missing files. */
  problems: BackupFileError[];
}

/** Files handed to a worker at once. */
const CHUNK_FILES = 32;

/** What is wrong with a copy, if anything; an error other than a missing or unreadable file stops verify. */
function judge(digest: CopiedFile | Error, entry: IndexEntry): string | null {
  if (digest instanceof Error) {
    const code = (digest as NodeJS.ErrnoException).code;
    if (code === 'ENOENT') return 'missing from the backup';
    if (code === 'EIO') return 'unreadable (I/O error)';
    throw digest;
  }
  // Reads stop one byte past the size written: a longer file shows as that.
  if (digest.size > entry.size) return `larger than the ${entry.size} bytes written`;
  if (digest.size < entry.size) return `size is ${digest.size} bytes, ${entry.size} were written`;
  if (digest.sha256 !== entry.sha256) return 'content differs from what was written (bit rot or tampering)';
  return null;
}

export async function verifyTarget(targetDir: string, options: VerifyOptions): Promise<VerifyReport> {
  try {
    await stat(targetDir);
  } catch (error) {
    throw new TargetError(describeTargetError(error, targetDir));
  }
  const index = await readIndex(targetDir);
  if (index.size === 0) throw new TargetError(`${targetDir} holds no Nook backup (no index.json)`);
  const entries = [...index].filter(([, entry]) => !entry.goneSince);
  const count = Math.min(
    entries.length,
    Math.max(1, Math.ceil((entries.length * options.samplePercent) / 100)),
  );
  // A partial Fisher–Yates shuffle: the first `count` entries become a uniform random sample.
  for (let i = 0; i < count; i++) {
    const j = i + randomInt(entries.length - i);
    [entries[i], entries[j]] = [entries[j]!, entries[i]!];
  }
  const sample = entries.slice(0, count);
  const problems: BackupFileError[] = [];
  let bytesChecked = 0;
  let done = 0;
  let next = 0;
  // Worker threads read and hash; a chunk at a time keeps progress and an abort close.
  const pool = new CopyPool(options.signal ? { signal: options.signal } : {});
  let stopped: unknown = null;
  const lane = async () => {
    while (stopped === null && next < sample.length) {
      options.signal?.throwIfAborted();
      const chunk = sample.slice(next, next + CHUNK_FILES);
      next += chunk.length;
      options.onProgress?.(done, sample.length, bytesChecked, chunk[0]![0]);
      const outcomes = await pool.hash(
        chunk.map(([rel, entry]) => ({ file: path.join(targetDir, ...rel.split('/')), size: entry.size })),
      );
      outcomes.forEach((digest, i) => {
        const [rel, entry] = chunk[i]!;
        const problem = judge(digest, entry);
        if (problem) problems.push({ path: rel, reason: problem });
        if (!(digest instanceof Error)) bytesChecked += digest.size;
        done++;
      });
    }
  };
  try {
    await Promise.all(
      Array.from({ length: 2 * pool.size }, () =>
        lane().catch((error: unknown) => {
          stopped ??= error;
        }),
      ),
    );
  } finally {
    await pool.close();
  }
  if (stopped !== null) throw stopped;
  options.onProgress?.(sample.length, sample.length, bytesChecked, null);
  return { total: index.size, checked: sample.length, bytesChecked, problems };
}
