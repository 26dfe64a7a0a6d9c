// Talking to a Nook server: typed procedures over tRPC, multipart uploads for small files, tus for large ones.
import { createReadStream, openAsBlob } from 'node:fs';
import type { AppRouter } from '@nook/api';
import { TRPCClientError, createTRPCClient, httpLink } from '@trpc/client';
import * as tus from 'tus-js-client';

/**
 * Why an upload did not happen. `retryable` ones (server down, 5xx, 429) are worth another try;
 * `aboutFile` says whether the file itself was refused (too large, over quota), rather than the
 * server or this client's credentials, so that only such refusals are remembered per file.
 */
export class UploadError extends Error {
  override name = 'UploadError';
  constructor(
    message: string,
    readonly retryable: boolean,
    readonly aboutFile: boolean,
  ) {
    super(message);
  }
}

/** An HTTP status as an UploadError: 5xx, 429 and 408 pass; 401 and 403 are about the credentials. */
function statusError(status: number, message: string): UploadError {
  const retryable = status >= 500 || status === 429 || status === 408;
  const aboutFile = !retryable && status !== 401 && status !== 403;
  return new UploadError(`${status} ${message}`, retryable, aboutFile);
}

export interface UploadOutcome {
  assetId: string;
  sha256: string;
  duplicate: boolean;
}

export interface LocalFile {
  path: string;
  name: string;
  size: number;
}

/** fetch's network failures (refused, reset, DNS) surface as TypeError with a cause. */
function networkError(error: unknown): UploadError {
  const cause = (error as { cause?: { code?: string; message?: string } }).cause;
  return new UploadError(
    `server unreachable (${cause?.code ?? cause?.message ?? (error as Error).message})`,
    true,
    false,
  );
}

export class NookClient {
  private readonly trpc;

  constructor(
    readonly server: string,
    private readonly token: string,
  ) {
    this.trpc = createTRPCClient<AppRouter>({
      links: [httpLink({ url: `${server}/trpc`, headers: () => ({ authorization: `Bearer ${token}` }) })],
    });
  }

  /** Which of these hashes the user already has; batches of at most 1000, as the server takes. */
  async checkExisting(hashes: string[]): Promise<Set<string>> {
    const existing = new Set<string>();
    for (let start = 0; start < hashes.length; start += 1000) {
      try {
        const result = await this.trpc.assets.checkExisting.mutate({
          sha256: hashes.slice(start, start + 1000),
        });
        for (const hash of result.existing) existing.add(hash);
      } catch (error) {
        if (error instanceof TRPCClientError) {
          const status = (error.data as { httpStatus?: number } | undefined)?.httpStatus ?? 0;
          if (status === 0) throw networkError(error);
          const refused = statusError(status, error.message);
          throw new UploadError(`hash check refused: ${refused.message}`, refused.retryable, false);
        }
        throw error;
      }
    }
    return existing;
  }

  /** One multipart request with several small files; answers in the same order. */
  async uploadMultipart(files: LocalFile[]): Promise<UploadOutcome[]> {
    const form = new FormData();
    for (const file of files) form.append('file', await openAsBlob(file.path), file.name);
    let response: Response;
    try {
      response = await fetch(`${this.server}/api/assets`, {
        method: 'POST',
        body: form,
        headers: { authorization: `Bearer ${this.token}` },
      });
    } catch (error) {
      throw networkError(error);
    }
    const body = (await response.json().catch(() => null)) as
      { id: string; sha256: string; duplicate: boolean }[] | { message?: string } | null;
    if (!response.ok || !Array.isArray(body)) {
      const message = (body && !Array.isArray(body) && body.message) || response.statusText;
      throw statusError(response.status, message);
    }
    return body.map((item) => ({ assetId: item.id, sha256: item.sha256, duplicate: item.duplicate }));
  }

  /**
   * A resumable upload. `resumeUrl` continues one started earlier (by this or an earlier run);
   * `onUrl` hands out the URL as soon as the server assigned it, so a restart can resume.
   */
  uploadTus(
    file: LocalFile,
    options: {
      chunkSize: number;
      resumeUrl?: string;
      onUrl?: (url: string) => void;
      onProgress?: (bytes: number) => void;
      retryDelays: number[];
      signal?: AbortSignal;
    },
  ): Promise<UploadOutcome> {
    return new Promise((resolve, reject) => {
      const upload = new tus.Upload(createReadStream(file.path), {
        endpoint: `${this.server}/api/uploads`,
        uploadUrl: options.resumeUrl,
        chunkSize: options.chunkSize,
        retryDelays: options.retryDelays,
        headers: { authorization: `Bearer ${this.token}` },
        metadata: { filename: file.name },
        removeFingerprintOnSuccess: true,
        onUploadUrlAvailable: () => {
          if (upload.url) options.onUrl?.(upload.url);
        },
        onProgress: (sent) => options.onProgress?.(sent),
        onSuccess: ({ lastResponse }) =>
          resolve({
            assetId: lastResponse.getHeader('nook-asset-id') ?? '',
            sha256: lastResponse.getHeader('nook-asset-sha256') ?? '',
            duplicate: lastResponse.getHeader('nook-duplicate') === 'true',
          }),
        onError: (error) => {
          const response = (error as tus.DetailedError).originalResponse;
          if (!response) {
            reject(new UploadError(`server unreachable (${error.message.split('\n')[0]})`, true, false));
            return;
          }
          const status = response.getStatus();
          reject(statusError(status, response.getBody().trim()));
        },
      });
      options.signal?.addEventListener('abort', () => {
        void upload.abort();
        reject(new UploadError('stopped', true, false));
      });
      upload.start();
    });
  }
}

/** Signs in with a password, mints an API token for this machine, and ends the session again. */
export async function createTokenWithPassword(
  server: string,
  username: string,
  password: string,
  tokenName: string,
): Promise<string> {
  let cookie = '';
  const client = createTRPCClient<AppRouter>({
    links: [
      httpLink({
        url: `${server}/trpc`,
        // Cookie-authenticated changes must come from Nook's own origin (CSRF check).
        headers: () => ({ origin: new URL(server).origin, ...(cookie && { cookie }) }),
        fetch: async (url, init) => {
          const response = await fetch(url, init as RequestInit);
          const session = response.headers.getSetCookie().find((line) => line.startsWith('nook_session='));
          if (session) cookie = session.split(';')[0]!;
          return response;
        },
      }),
    ],
  });
  await client.auth.login.mutate({ username, password });
  const { token } = await client.auth.createToken.mutate({ name: tokenName, scopes: ['read', 'upload'] });
  await client.auth.logout.mutate();
  return token;
}
