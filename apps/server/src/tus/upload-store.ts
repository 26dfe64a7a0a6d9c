// The tus data store: @tus/file-store under <data>/tmp/tus, plus the checksum extension and a running SHA-256.
import { createHash, type Hash } from 'node:crypto';
import { open, readFile, readdir, rm, stat, truncate } from 'node:fs/promises';
import path from 'node:path';
import { Transform, type Readable } from 'node:stream';
import { FileStore } from '@tus/file-store';
import type { Upload } from '@tus/server';
import type { QuotaMessage, QuotaReservation } from '@nook/core';

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

/** The current request's hold on its user's quota, and how to word a refusal. */
export interface UploadQuota {
  reservation: QuotaReservation;
  describe: QuotaMessage;
}

/** Where tus keeps unfinished uploads under the data dir's tmp/. */
export const tusDirectory = (tmpDir: string) => path.join(tmpDir, 'tus');

/** Where the answers of finished uploads are kept after their bytes are gone (see FinishedUploads). */
export const tusFinishedDirectory = (tmpDir: string) => path.join(tmpDir, 'tus-done');

/**
 * Bytes a user's unfinished tus uploads count against the quota as if stored: the announced length,
 * or, while the length is deferred, what has been written. Multipart uploads count them too.
 */
export async function pendingUploadBytes(directory: string, userId: string): Promise<number> {
  let total = 0;
  for (const name of await readdir(directory).catch(() => [] as string[])) {
    if (!name.startsWith(`${userId}.`) || !name.endsWith('.json')) continue;
    const info = await readFile(path.join(directory, name), 'utf8')
      .then((text) => JSON.parse(text) as { size?: number })
      .catch(() => null);
    // Without its bytes it is no upload: the tail of a removal a crash cut short (see tidy).
    const written = await stat(path.join(directory, name.slice(0, -'.json'.length))).then(
      (file) => file.size,
      () => null,
    );
    if (!info || written === null) continue;
    total += info.size ?? written;
  }
  return total;
}

const quotaRefusal = (error: unknown) => ({
  status_code: 413,
  body: `${(error as Error).message}\n`,
});

export class NookUploadStore extends FileStore {
  private readonly running = new Map<string, RunningHash>();

  constructor(
    options: { directory: string; expirationPeriodInMilliseconds: number },
    /** The current request's Upload-Checksum; the route keeps it in async-local storage. */
    private readonly expectedChecksum: () => ExpectedChecksum | undefined,
    /** The current request's quota reservation, likewise. */
    private readonly quota: () => UploadQuota | undefined,
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
    const { size } = await this.getUpload(id);
    // An upload of announced length was counted whole at creation; one of deferred length is
    // counted by what it has written, so each of its chunks must find room as it arrives.
    const quota = this.quota();
    const metered = quota && size === undefined ? quota : undefined;
    let refused: unknown;
    let running = this.running.get(id);
    if (running?.offset !== offset)
      running = offset === 0 ? { hash: createHash('sha256'), offset } : undefined;
    this.running.delete(id);
    const before = expected && running ? running.hash.copy() : undefined;
    const chunkHash = expected ? createHash(expected.algorithm) : undefined;
    let received = 0;
    const tap = new Transform({
      transform(chunk: Buffer, _encoding, callback) {
        try {
          metered?.reservation.grow(chunk.length, metered.describe);
        } catch (error) {
          refused = error;
          callback(error as Error);
          return;
        }
        running?.hash.update(chunk);
        chunkHash?.update(chunk);
        received += chunk.length;
        callback(null, chunk);
      },
    });
    readable.on('error', (error) => tap.destroy(error));
    let newOffset: number;
    try {
      newOffset = await super.write(readable.pipe(tap), id, offset);
    } catch (error) {
      if (!refused) throw error;
      // Nothing of a refused request stays: the upload is where it was before it.
      await truncate(this.resolvePath(id), offset);
      throw quotaRefusal(refused);
    }
    if (chunkHash && chunkHash.digest('base64') !== expected!.digest) {
      await truncate(this.resolvePath(id), offset);
      if (running && before) this.running.set(id, { hash: before, offset });
      throw CHECKSUM_MISMATCH;
    }
    if (running && newOffset === offset + received)
      this.running.set(id, { hash: running.hash, offset: newOffset });
    // Once a client hears that the last byte arrived, a power cut must not take it back: the bytes
    // reach the disk before the request that completes the upload is answered. Chunks before the
    // last need not: after a crash HEAD reports what the file holds and the client resumes there.
    if (size !== undefined && newOffset === size) await this.flush(id);
    return newOffset;
  }

  /** fdatasync of the upload's bytes. */
  protected async flush(id: string): Promise<void> {
    const handle = await open(this.resolvePath(id), 'r');
    try {
      await handle.datasync();
    } finally {
      await handle.close();
    }
  }

  /** The finished upload's SHA-256 when every byte passed through this process in order, else null. */
  takeSha256(id: string, size: number): string | null {
    const running = this.running.get(id);
    this.running.delete(id);
    return running?.offset === size ? running.hash.digest('hex') : null;
  }

  /**
   * A deferred length, once declared, must fit too: it counts whole from now on, like one
   * announced at creation.
   */
  override async declareUploadLength(id: string, length: number): Promise<void> {
    const quota = this.quota();
    if (quota) {
      const { offset } = await this.getUpload(id);
      try {
        quota.reservation.grow(length - offset, quota.describe);
      } catch (error) {
        throw quotaRefusal(error);
      }
    }
    await super.declareUploadLength(id, length);
  }

  /** Uploads whose every byte is here: finished, unless their completion (the asset) is still to come. */
  async complete(): Promise<Upload[]> {
    const uploads: Upload[] = [];
    for (const name of await readdir(this.directory).catch(() => [] as string[])) {
      if (!name.endsWith('.json')) continue;
      const upload = await this.getUpload(name.slice(0, -'.json'.length)).catch(() => null);
      if (upload && upload.size !== undefined && upload.offset === upload.size) uploads.push(upload);
    }
    return uploads;
  }

  /**
   * tus's own sweep compares the offset written at creation (always 0) with the size, so it would
   * delete an upload whose bytes all arrived but whose completion is still owed (the process died
   * during the last PATCH, or completing it failed for a passing reason). Only unfinished uploads
   * expire; finished ones wait for `complete()` to be replayed.
   */
  override async deleteExpired(): Promise<number> {
    const expiration = this.getExpiration();
    if (expiration <= 0) return 0;
    const now = Date.now();
    let removed = 0;
    for (const name of await readdir(this.directory).catch(() => [] as string[])) {
      if (!name.endsWith('.json')) continue;
      const upload = await this.getUpload(name.slice(0, -'.json'.length)).catch(() => null);
      if (!upload?.creation_date) continue;
      if (upload.size !== undefined && upload.offset === upload.size) continue;
      if (new Date(upload.creation_date).getTime() + expiration > now) continue;
      await this.remove(upload.id);
      removed += 1;
    }
    return removed;
  }

  pendingBytes(userId: string): Promise<number> {
    return pendingUploadBytes(this.directory, userId);
  }

  /** Bytes first, then the record (as @tus/file-store does), but either may already be gone. */
  override async remove(id: string): Promise<void> {
    this.running.delete(id);
    await rm(this.resolvePath(id), { force: true });
    await rm(`${this.resolvePath(id)}.json`, { force: true });
  }

  /**
   * What a crash can leave half made or half removed: a record whose bytes are gone (removal cut
   * between its two steps; tus would never list, expire or remove it, and it would count against the
   * quota for ever) goes whatever its age. Bytes without a record (creation cut between its two steps)
   * and a record that does not parse (cut while written) go once older than `minAgeMs`: 0 at start,
   * before any upload is taken. Returns how many uploads were tidied.
   */
  async tidy(minAgeMs: number): Promise<number> {
    const names = new Set(await readdir(this.directory).catch(() => [] as string[]));
    const cutoff = Date.now() - minAgeMs;
    const old = async (file: string) =>
      stat(path.join(this.directory, file)).then(
        (info) => info.mtimeMs <= cutoff,
        () => false,
      );
    let tidied = 0;
    for (const name of names) {
      const id = name.endsWith('.json') ? name.slice(0, -'.json'.length) : name;
      if (name === id) {
        if (names.has(`${id}.json`) || !(await old(name))) continue;
      } else if (names.has(id)) {
        const parses = await readFile(path.join(this.directory, name), 'utf8')
          .then((text) => Boolean(JSON.parse(text)))
          .catch(() => false);
        if (parses || !(await old(name))) continue;
      }
      await this.remove(id);
      tidied++;
    }
    return tidied;
  }

  /** The tus server only hands over ids without separators (checked in getFileIdFromRequest). */
  private resolvePath(id: string): string {
    return path.join(this.directory, id);
  }
}
