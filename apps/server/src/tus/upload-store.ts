// The tus data store: @tus/file-store under <data>/tmp/tus, plus the checksum extension and a running SHA-256.
import { createHash, type Hash } from 'node:crypto';
import { readFile, readdir, truncate } from 'node:fs/promises';
import path from 'node:path';
import { Transform, type Readable } from 'node:stream';
import { FileStore } from '@tus/file-store';

/** `Tus-Checksum-Algorithm`: sha1 is the one the protocol requires, sha256 the one Nook prefers. */
export const checksumAlgorithms = ['sha256', 'sha1', 'md5'] as const;
export type ChecksumAlgorithm = (typeof checksumAlgorithms)[number];

export interface ExpectedChecksum {
  algorithm: ChecksumAlgorithm;
  /** Base64, as the client sent it. */
  digest: string;
}

export const CHECKSUM_MISMATCH = { status_code: 460, body: 'Checksum Mismatch\n' } as const;

/** The whole upload's SHA-256 so far, while its bytes arrive in order in this process. */
interface RunningHash {
  hash: Hash;
  offset: number;
}

export class NookUploadStore extends FileStore {
  private readonly running = new Map<string, RunningHash>();

  constructor(
    options: { directory: string; expirationPeriodInMilliseconds: number },
    /** The current request's Upload-Checksum; the route keeps it in async-local storage. */
    private readonly expectedChecksum: () => ExpectedChecksum | undefined,
  ) {
    super(options);
    this.extensions = [...this.extensions, 'checksum'];
  }

  /**
   * Hashing while writing spares re-reading a finished upload (2 GiB is seconds on a Pi). A chunk
   * whose checksum does not match is cut off again, so the offset stays where it was (460).
   */
  override async write(readable: Readable, id: string, offset: number): Promise<number> {
    const expected = this.expectedChecksum();
    let running = this.running.get(id);
    if (running?.offset !== offset)
      running = offset === 0 ? { hash: createHash('sha256'), offset } : undefined;
    this.running.delete(id);
    const before = expected && running ? running.hash.copy() : undefined;
    const chunkHash = expected ? createHash(expected.algorithm) : undefined;
    let received = 0;
    const tap = new Transform({
      transform(chunk: Buffer, _encoding, callback) {
        running?.hash.update(chunk);
        chunkHash?.update(chunk);
        received += chunk.length;
        callback(null, chunk);
      },
    });
    readable.on('error', (error) => tap.destroy(error));
    const newOffset = await super.write(readable.pipe(tap), id, offset);
    if (chunkHash && chunkHash.digest('base64') !== expected!.digest) {
      await truncate(this.resolvePath(id), offset);
      if (running && before) this.running.set(id, { hash: before, offset });
      throw CHECKSUM_MISMATCH;
    }
    if (running && newOffset === offset + received)
      this.running.set(id, { hash: running.hash, offset: newOffset });
    return newOffset;
  }

  /** The finished upload's SHA-256 when every byte passed through this process in order, else null. */
  takeSha256(id: string, size: number): string | null {
    const running = this.running.get(id);
    this.running.delete(id);
    return running?.offset === size ? running.hash.digest('hex') : null;
  }

  /** Bytes this user's unfinished uploads have announced: they count against the quota as if stored. */
  async pendingBytes(userId: string): Promise<number> {
    let total = 0;
    for (const name of await readdir(this.directory).catch(() => [] as string[])) {
      if (!name.startsWith(`${userId}.`) || !name.endsWith('.json')) continue;
      const info = await readFile(path.join(this.directory, name), 'utf8')
        .then((text) => JSON.parse(text) as { size?: number; offset?: number })
        .catch(() => null);
      total += info?.size ?? info?.offset ?? 0;
    }
    return total;
  }

  override async remove(id: string): Promise<void> {
    this.running.delete(id);
    await super.remove(id);
  }

  /** The tus server only hands over ids without separators (checked in getFileIdFromRequest). */
  private resolvePath(id: string): string {
    return path.join(this.directory, id);
  }
}
