// Writes large incompressible test files quickly, hashing them on the way so uploads can be verified.
import { createHash, randomBytes } from 'node:crypto';
import { open } from 'node:fs/promises';

export interface TestFile {
  path: string;
  size: number;
  sha256: string;
}

const BLOCK_BYTES = 16 * 1024 * 1024;

/**
 * Fresh random bytes for a whole GiB would cost seconds of CPU; one random block repeated is enough
 * because nothing on the path compresses or deduplicates below the file level. The per-block header
 * makes every file (and so its SHA-256) unique, which Nook needs to store each upload anew.
 */
export async function writeTestFile(path: string, size: number, label: string): Promise<TestFile> {
  const block = randomBytes(BLOCK_BYTES);
  const hash = createHash('sha256');
  const file = await open(path, 'w');
  try {
    for (let offset = 0; offset < size; offset += BLOCK_BYTES) {
      block.write(`${label}:${offset}:`.padEnd(64, '.'), 0, 'latin1');
      const length = Math.min(BLOCK_BYTES, size - offset);
      const chunk = block.subarray(0, length);
      hash.update(chunk);
      await file.write(chunk, 0, length, offset);
    }
  } finally {
    await file.close();
  }
  return { path, size, sha256: hash.digest('hex') };
}
