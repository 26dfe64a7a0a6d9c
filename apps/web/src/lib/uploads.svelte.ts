// Uploads in flight and just finished: one request per file for real progress, a few files at a time.
import { uploadFile, type UploadedAsset } from './upload-request';

export type UploadState = 'queued' | 'uploading' | 'done' | 'duplicate' | 'failed';

export interface Upload {
  readonly key: number;
  readonly name: string;
  readonly size: number;
  /** 0 to 1, of the request body sent so far. */
  progress: number;
  state: UploadState;
  /** Why it failed, in the server's words when it gave any. */
  error: string | null;
}

/** Browsers open about six connections per host; three leave room for thumbnails and API calls. */
const CONCURRENCY = 3;
/** Plain successes leave the panel on their own; duplicates and failures wait to be read. */
const DONE_LINGER_MS = 4000;

export class Uploads {
  readonly #onUploaded: (assets: UploadedAsset[]) => void;
  #items = $state<Upload[]>([]);
  #queue: { upload: Upload; file: File }[] = [];
  #running = $state(0);
  #nextKey = 0;
  #lingerTimer: ReturnType<typeof setTimeout> | undefined;

  /** `onUploaded` receives every newly stored asset (duplicates excluded) as soon as its file is in. */
  constructor(onUploaded: (assets: UploadedAsset[]) => void) {
    this.#onUploaded = onUploaded;
  }

  get items(): readonly Readonly<Upload>[] {
    return this.#items;
  }
  get busy(): boolean {
    return this.#running > 0 || this.#queue.length > 0;
  }
  get finished(): number {
    return this.#items.filter((upload) => upload.state !== 'queued' && upload.state !== 'uploading').length;
  }

  add(files: Iterable<File>): void {
    clearTimeout(this.#lingerTimer);
    for (const file of files) {
      this.#items.push({
        key: this.#nextKey++,
        name: file.name,
        size: file.size,
        progress: 0,
        state: 'queued',
        error: null,
      });
      // The pushed object is wrapped in a reactive proxy; changes must go through that proxy.
      this.#queue.push({ upload: this.#items[this.#items.length - 1]!, file });
    }
    this.#pump();
  }

  /** Clears everything that is over; uploads still running stay. */
  dismissFinished(): void {
    this.#items = this.#items.filter((upload) => upload.state === 'queued' || upload.state === 'uploading');
  }

  #pump(): void {
    while (this.#running < CONCURRENCY) {
      const next = this.#queue.shift();
      if (!next) break;
      this.#running++;
      void this.#send(next.upload, next.file).finally(() => {
        this.#running--;
        this.#pump();
        if (!this.busy) this.#lingerTimer = setTimeout(() => this.#dropDone(), DONE_LINGER_MS);
      });
    }
  }

  async #send(upload: Upload, file: File): Promise<void> {
    upload.state = 'uploading';
    try {
      const answer = await uploadFile(file, (fraction) => {
        upload.progress = fraction;
      });
      upload.progress = 1;
      upload.state = answer.every((asset) => asset.duplicate) ? 'duplicate' : 'done';
      const stored = answer.filter((asset) => !asset.duplicate);
      if (stored.length > 0) this.#onUploaded(stored);
    } catch (error) {
      upload.state = 'failed';
      upload.error = error instanceof Error ? error.message : String(error);
    }
  }

  #dropDone(): void {
    this.#items = this.#items.filter((upload) => upload.state !== 'done');
  }
}
