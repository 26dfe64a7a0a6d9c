// The upload pipeline shared by `nook upload` and `nook watch`: hash, ask the server, send the rest in parallel.
import { readFile } from 'node:fs/promises';
import path from 'node:path';
import { hashFile } from '@nook/core/files';
import { TokenRefusedError, UploadError, type LocalFile, type NookClient, type UploadOutcome } from './api';
import { writeFileAtomic } from './credentials';
import type { ScannedFile } from './scan';

export interface UploaderOptions {
  /** Uploads in flight at once. */
  parallel: number;
  /** Files at least this large go through tus (resumable); smaller ones share multipart requests. */
  tusThreshold: number;
  chunkSize: number;
  /** Waits between attempts (ms); their count is the number of retries. */
  retryDelays: number[];
  /** Small files per multipart request, and their total size. */
  batchFiles: number;
  batchBytes: number;
}

export const defaultUploaderOptions: UploaderOptions = {
  parallel: 4,
  tusThreshold: 16 * 1024 * 1024,
  chunkSize: 64 * 1024 * 1024,
  retryDelays: [1000, 2000, 4000, 8000, 16000],
  batchFiles: 32,
  batchBytes: 8 * 1024 * 1024,
};

export type FileStatus = 'uploaded' | 'duplicate' | 'failed';

export interface FileResult {
  file: ScannedFile;
  status: FileStatus;
  sha256?: string;
  reason?: string;
  /** A failure that may pass by itself (server down, 5xx, the file still changing): tried again later. */
  retryable?: boolean;
  /** The file itself was refused or unreadable, rather than the server or the credentials failing. */
  aboutFile?: boolean;
}

export interface UploaderEvents {
  onHashed?(done: number, total: number): void;
  onStart?(file: ScannedFile): void;
  onProgress?(file: ScannedFile, bytes: number): void;
  onDone?(result: FileResult): void;
}

/** URLs of unfinished resumable uploads by content hash, so an interrupted run resumes, not restarts. */
export class ResumeStore {
  private urls: Record<string, string> | null = null;
  private writing = Promise.resolve();

  constructor(private readonly file: string) {}

  private async load(): Promise<Record<string, string>> {
    if (!this.urls) {
      try {
        this.urls = JSON.parse(await readFile(this.file, 'utf8')) as Record<string, string>;
      } catch {
        this.urls = {};
      }
    }
    return this.urls;
  }

  async get(sha256: string, server: string): Promise<string | undefined> {
    const url = (await this.load())[sha256];
    return url?.startsWith(server) ? url : undefined;
  }

  async set(sha256: string, url: string | null): Promise<void> {
    const urls = await this.load();
    if (url) urls[sha256] = url;
    else if (sha256 in urls) delete urls[sha256];
    else return;
    const snapshot = JSON.stringify(urls);
    this.writing = this.writing.then(() => writeFileAtomic(this.file, snapshot)).catch(() => undefined);
    await this.writing;
  }
}

const sleep = (ms: number, signal?: AbortSignal) =>
  new Promise<void>((resolve) => {
    const timer = setTimeout(resolve, ms);
    signal?.addEventListener('abort', () => {
      clearTimeout(timer);
      resolve();
    });
  });

/** Runs `work` over `items` with at most `limit` at once. */
async function pool<T>(items: T[], limit: number, work: (item: T) => Promise<void>): Promise<void> {
  let next = 0;
  const runners = Array.from({ length: Math.min(limit, items.length) }, async () => {
    while (next < items.length) await work(items[next++]!);
  });
  await Promise.all(runners);
}

interface Hashed {
  file: ScannedFile;
  sha256: string;
}

export class Uploader {
  constructor(
    private readonly client: NookClient,
    private readonly resume: ResumeStore,
    private readonly options: UploaderOptions,
    private readonly events: UploaderEvents = {},
    private readonly signal?: AbortSignal,
  ) {}

  async run(files: ScannedFile[]): Promise<FileResult[]> {
    const results: FileResult[] = [];
    const finish = (result: FileResult) => {
      results.push(result);
      this.events.onDone?.(result);
    };

    // 1. Hash, a few files at once (reading is the bottleneck on a laptop disk, hashing on a Pi).
    const hashed: Hashed[] = [];
    let hashedCount = 0;
    await pool(files, 4, async (file) => {
      if (this.signal?.aborted) return;
      try {
        const digest = await hashFile(file.path);
        hashed.push({ file: { ...file, size: digest.size }, sha256: digest.sha256 });
      } catch (error) {
        finish({
          file,
          status: 'failed',
          reason: `cannot read: ${(error as Error).message}`,
          retryable: false,
          aboutFile: true,
        });
      }
      this.events.onHashed?.(++hashedCount, files.length);
    });
    if (this.signal?.aborted) return results;

    // 2. The same content twice in this run goes up once; the copies follow the first one's fate.
    const firsts = new Map<string, Hashed>();
    const copies = new Map<string, Hashed[]>();
    for (const item of hashed.sort((a, b) => a.file.path.localeCompare(b.file.path))) {
      if (!firsts.has(item.sha256)) firsts.set(item.sha256, item);
      else copies.set(item.sha256, [...(copies.get(item.sha256) ?? []), item]);
    }
    const settle = (item: Hashed, result: FileResult) => {
      finish(result);
      for (const copy of copies.get(item.sha256) ?? []) {
        finish(
          result.status === 'failed'
            ? { ...result, file: copy.file }
            : { file: copy.file, status: 'duplicate', sha256: item.sha256 },
        );
      }
    };

    // 3. Skip what the server already has, before sending a byte.
    const unique = [...firsts.values()];
    let existing: Set<string>;
    try {
      existing = await this.withRetries(() => this.client.checkExisting(unique.map((item) => item.sha256)));
    } catch (error) {
      if (error instanceof TokenRefusedError) throw error;
      const failure = error as UploadError;
      for (const item of unique)
        settle(item, {
          file: item.file,
          status: 'failed',
          reason: failure.message,
          retryable: failure.retryable,
          aboutFile: false,
        });
      return results;
    }
    const toSend = unique.filter((item) => {
      if (!existing.has(item.sha256)) return true;
      settle(item, { file: item.file, status: 'duplicate', sha256: item.sha256 });
      return false;
    });

    // 4. Large files one by one over tus; small ones grouped into multipart requests.
    const jobs: Hashed[][] = [];
    let batch: Hashed[] = [];
    let batchBytes = 0;
    for (const item of toSend.sort((a, b) => b.file.size - a.file.size)) {
      if (item.file.size >= this.options.tusThreshold) {
        jobs.push([item]);
        continue;
      }
      if (batch.length >= this.options.batchFiles || batchBytes + item.file.size > this.options.batchBytes) {
        if (batch.length) jobs.push(batch);
        batch = [];
        batchBytes = 0;
      }
      batch.push(item);
      batchBytes += item.file.size;
    }
    if (batch.length) jobs.push(batch);

    // A refused token fails every request alike: the files still waiting are not tried.
    let refused: TokenRefusedError | null = null;
    await pool(jobs, this.options.parallel, async (job) => {
      if (this.signal?.aborted || refused) return;
      try {
        for (const [item, result] of await this.send(job)) settle(item, result);
      } catch (error) {
        if (!(error instanceof TokenRefusedError)) throw error;
        refused ??= error;
      }
    });
    if (refused) throw refused;
    return results;
  }

  /** Asks the server once (retrying while it is away) whether this token may upload. */
  async checkToken(): Promise<void> {
    await this.withRetries(() => this.client.hashStates([]));
  }

  private async withRetries<T>(attempt: () => Promise<T>): Promise<T> {
    for (let tries = 0; ; tries++) {
      try {
        return await attempt();
      } catch (error) {
        const retryable = error instanceof UploadError && error.retryable;
        if (!retryable || tries >= this.options.retryDelays.length || this.signal?.aborted) throw error;
        await sleep(this.options.retryDelays[tries]!, this.signal);
      }
    }
  }

  private outcome(item: Hashed, outcome: UploadOutcome): FileResult {
    if (outcome.sha256 !== item.sha256) {
      return {
        file: item.file,
        status: 'failed',
        reason: 'the file changed while it was uploaded; it is sent again once it is stable',
        retryable: true,
        aboutFile: true,
      };
    }
    return { file: item.file, status: outcome.duplicate ? 'duplicate' : 'uploaded', sha256: item.sha256 };
  }

  private failure(item: Hashed, error: unknown): FileResult {
    const known = error instanceof UploadError;
    return {
      file: item.file,
      status: 'failed',
      reason: known ? error.message : String((error as Error).message ?? error),
      retryable: known ? error.retryable : false,
      aboutFile: known ? error.aboutFile : true,
    };
  }

  /** Each file's result; throws only TokenRefusedError, which no other file could escape either. */
  private async send(job: Hashed[]): Promise<[Hashed, FileResult][]> {
    const local = (item: Hashed): LocalFile => ({
      path: item.file.path,
      name: path.basename(item.file.path),
      size: item.file.size,
    });
    for (const item of job) this.events.onStart?.(item.file);
    if (job.length === 1 && job[0]!.file.size >= this.options.tusThreshold) {
      const item = job[0]!;
      try {
        const outcome = await this.client.uploadTus(local(item), {
          chunkSize: this.options.chunkSize,
          retryDelays: this.options.retryDelays,
          resumeUrl: await this.resume.get(item.sha256, this.client.server),
          onUrl: (url) => void this.resume.set(item.sha256, url),
          onProgress: (bytes) => this.events.onProgress?.(item.file, bytes),
          signal: this.signal,
        });
        await this.resume.set(item.sha256, null);
        return [[item, this.outcome(item, outcome)]];
      } catch (error) {
        if (error instanceof TokenRefusedError) throw error;
        return [[item, this.failure(item, error)]];
      }
    }
    try {
      const outcomes = await this.withRetries(() => this.client.uploadMultipart(job.map(local)));
      return job.map((item, index) => [item, this.outcome(item, outcomes[index]!)]);
    } catch (error) {
      if (error instanceof TokenRefusedError) throw error;
      // One bad file (over the limit, over quota) fails the whole request: try each alone to say which.
      if (job.length > 1 && !(error instanceof UploadError && error.retryable)) {
        return (await Promise.all(job.map((item) => this.send([item])))).flat();
      }
      return job.map((item) => [item, this.failure(item, error)]);
    }
  }
}
