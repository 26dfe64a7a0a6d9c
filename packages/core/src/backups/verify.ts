// Verifying a backup: re-hash a sample (or all) of its files against its index and report bit rot.
import { randomInt } from 'node:crypto';
import path from 'node:path';
import { hashFile } from '../ingest/hash';
import type { BackupFileError } from './backup-run.entity';
import { readIndex } from './mirror-index';
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
  for (let i = 0; i < sample.length; i++) {
    options.signal?.throwIfAborted();
    const [rel, entry] = sample[i]!;
    options.onProgress?.(i, sample.length, bytesChecked, rel);
    try {
      const digest = await hashFile(path.join(targetDir, ...rel.split('/')));
      bytesChecked += digest.size;
      if (digest.size !== entry.size)
        problems.push({ path: rel, reason: `size is ${digest.size} bytes, ${entry.size} were written` });
      else if (digest.sha256 !== entry.sha256)
        problems.push({ path: rel, reason: 'content differs from what was written (bit rot or tampering)' });
    } catch (error) {
      const code = (error as NodeJS.ErrnoException).code;
      if (code === 'ENOENT') problems.push({ path: rel, reason: 'missing from the backup' });
      else if (code === 'EIO') problems.push({ path: rel, reason: 'unreadable (I/O error)' });
      else throw error;
    }
  }
  options.onProgress?.(sample.length, sample.length, bytesChecked, null);
  return { total: index.size, checked: sample.length, bytesChecked, problems };
}
