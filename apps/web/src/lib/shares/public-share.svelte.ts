// What a visitor of a share link sees: the shared file or album, a password prompt, or that the link is gone.
import { UNREACHABLE } from '$lib/errors';

/** The server's public view of a shared asset (`GET /api/shares/:token`). */
export interface SharedAsset {
  type: 'asset';
  name: string;
  kind: 'image' | 'video' | 'other';
  mime: string;
  size?: number;
  width: number | null;
  height: number | null;
  takenAt: string;
  allowDownload: boolean;
  expiresAt: string | null;
  thumbnailUrl: string | null;
  previewUrl: string | null;
  originalUrl: string | null;
}

/** One file of a shared album. */
export interface SharedAlbumItem {
  id: string;
  name: string;
  kind: 'image' | 'video' | 'other';
  mime: string;
  width: number | null;
  height: number | null;
  takenAt: string;
  thumbnailUrl: string | null;
  previewUrl: string | null;
  originalUrl: string | null;
}

/** The server's public view of a shared album: its newest live items, at most 500. */
export interface SharedAlbum {
  type: 'album';
  name: string;
  count: number;
  allowDownload: boolean;
  expiresAt: string | null;
  items: SharedAlbumItem[];
}

export type SharedContent = SharedAsset | SharedAlbum;

export type PublicShareStatus = 'loading' | 'ready' | 'locked' | 'gone' | 'error';

async function messageOf(response: Response): Promise<string | null> {
  const body: unknown = await response.json().catch(() => null);
  return body && typeof body === 'object' && 'message' in body && typeof body.message === 'string'
    ? body.message
    : null;
}

export class PublicShare {
  readonly #base: string;
  #status = $state<PublicShareStatus>('loading');
  #content = $state.raw<SharedContent | null>(null);
  #error = $state<string | null>(null);

  constructor(token: string) {
    this.#base = `/api/shares/${encodeURIComponent(token)}`;
  }

  get status(): PublicShareStatus {
    return this.#status;
  }
  get content(): SharedContent | null {
    return this.#content;
  }
  get error(): string | null {
    return this.#error;
  }

  async load(): Promise<void> {
    this.#status = 'loading';
    this.#error = null;
    try {
      const response = await fetch(this.#base, { headers: { accept: 'application/json' } });
      if (response.ok) {
        this.#content = (await response.json()) as SharedContent;
        this.#status = 'ready';
      } else if (response.status === 401) {
        this.#status = 'locked';
      } else if (response.status === 404 || response.status === 400) {
        // A malformed token is as unknown as a revoked one.
        this.#status = 'gone';
      } else {
        this.#error = (await messageOf(response)) ?? `The server answered ${response.status}.`;
        this.#status = 'error';
      }
    } catch {
      this.#error = UNREACHABLE;
      this.#status = 'error';
    }
  }

  /** Sends the password; the server then remembers in a cookie that this browser gave it. Returns why it failed, or null. */
  async unlock(password: string): Promise<string | null> {
    try {
      const response = await fetch(`${this.#base}/unlock`, {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify({ password }),
      });
      if (response.status === 204) {
        await this.load();
        return null;
      }
      if (response.status === 404) {
        this.#status = 'gone';
        return null;
      }
      if (response.status === 401) return 'That password is not right.';
      if (response.status === 429) return 'Too many wrong passwords. Wait a little, then try again.';
      return (await messageOf(response)) ?? `The server answered ${response.status}.`;
    } catch {
      return UNREACHABLE;
    }
  }
}
