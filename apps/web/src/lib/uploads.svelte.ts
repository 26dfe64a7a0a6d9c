// Uploads in flight and just finished: progress per file and in total, speed and time left, retries.
// Small files go as one multipart request each; large ones through tus, loaded only when needed.
import { uploadFile, type UploadedAsset } from './upload-request';

export type UploadState = 'queued' | 'uploading' | 'done' | 'duplicate' | 'failed';

export interface Upload {
  readonly key: number;
  readonly name: string;
  readonly size: number;
  /** 0 to 1, of the bytes sent so far. */
  progress: number;
  state: UploadState;
  /** Why it failed, in the server's words when it gave any. */
  error: string | null;
  /** Sent resumably (tus). */
  resumable: boolean;
}

/** Browsers open about six connections per host; three leave room for thumbnails and API calls. */
const CONCURRENCY = 3;
/** From this size on a file goes through tus, so a dropped connection costs one chunk, not the file. */
export const RESUMABLE_FROM_BYTES = 16 * 1024 * 1024;
/** Plain successes leave the panel on their own; duplicates and failures wait to be read. */
const DONE_LINGER_MS = 4000;
/** Speed is averaged over this window, so one slow chunk does not make the estimate jump. */
const SPEED_WINDOW_MS = 5000;

export class Uploads {
  #listeners: ((assets: UploadedAsset[]) => void)[] = [];
  #items = $state<Upload[]>([]);
  #files = new WeakMap<Upload, File>();
  #queue: Upload[] = [];
  #running = $state(0);
  #nextKey = 0;
  #lingerTimer: ReturnType<typeof setTimeout> | undefined;
  #samples: { at: number; bytes: number }[] = [];
  #speed = $state(0);

  /**
   * `listener` receives every newly stored asset (duplicates excluded) as soon as its file is in,
   * until the returned function is called.
   */
  onUploaded(listener: (assets: UploadedAsset[]) => void): () => void {
    this.#listeners = [...this.#listeners, listener];
    return () => {
      this.#listeners = this.#listeners.filter((other) => other !== listener);
    };
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
  /** Bytes of this batch (everything not failed) and how many of them are sent. */
  get totals(): { bytes: number; sent: number } {
    let bytes = 0;
    let sent = 0;
    for (const upload of this.#items) {
      if (upload.state === 'failed') continue;
      bytes += upload.size;
      sent += upload.size * upload.progress;
    }
    return { bytes, sent };
  }
  /** Bytes per second over the last few seconds. */
  get speed(): number {
    return this.#speed;
  }
  /** Seconds until everything queued is sent at the current speed, or null while unknown. */
  get secondsLeft(): number | null {
    const { bytes, sent } = this.totals;
    return this.#speed > 0 ? (bytes - sent) / this.#speed : null;
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
        resumable: file.size >= RESUMABLE_FROM_BYTES,
      });
      // The pushed object is wrapped in a reactive proxy; changes must go through that proxy.
      const upload = this.#items[this.#items.length - 1]!;
      this.#files.set(upload, file);
      this.#queue.push(upload);
    }
    this.#pump();
  }

  /** Sends a failed file again (a tus upload resumes where it stopped). */
  retry(key: number): void {
    const upload = this.#items.find((item) => item.key === key);
    if (!upload || upload.state !== 'failed') return;
    clearTimeout(this.#lingerTimer);
    upload.state = 'queued';
    upload.error = null;
    upload.progress = 0;
    this.#queue.push(upload);
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
      void this.#send(next).finally(() => {
        this.#running--;
        this.#pump();
        if (!this.busy) {
          this.#samples = [];
          this.#speed = 0;
          this.#lingerTimer = setTimeout(() => this.#dropDone(), DONE_LINGER_MS);
        }
      });
    }
  }

  #sample(): void {
    const now = performance.now();
    this.#samples.push({ at: now, bytes: this.totals.sent });
    while (this.#samples.length > 2 && now - this.#samples[0]!.at > SPEED_WINDOW_MS) this.#samples.shift();
    const first = this.#samples[0]!;
    const elapsed = (now - first.at) / 1000;
    if (elapsed > 0.5) this.#speed = Math.max(0, (this.totals.sent - first.bytes) / elapsed);
  }

  async #send(upload: Upload): Promise<void> {
    const file = this.#files.get(upload)!;
    upload.state = 'uploading';
    const onProgress = (fraction: number) => {
      upload.progress = fraction;
      this.#sample();
    };
    try {
      const answer = upload.resumable
        ? await (await import('./tus-upload')).uploadResumable(file, onProgress)
        : await uploadFile(file, onProgress);
      upload.progress = 1;
      upload.state = answer.every((asset) => asset.duplicate) ? 'duplicate' : 'done';
      const stored = answer.filter((asset) => !asset.duplicate);
      if (stored.length > 0) for (const listener of this.#listeners) listener(stored);
    } catch (error) {
      upload.state = 'failed';
      upload.error = error instanceof Error ? error.message : String(error);
    }
  }

  #dropDone(): void {
    this.#items = this.#items.filter((upload) => upload.state !== 'done');
  }
}

/** One queue for the whole dashboard: files dropped on any page go up, and keep going while you browse. */
export const uploads = new Uploads();
