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

/**
 * The server refused this client's credentials: 401 (a bogus, revoked or expired token) or 403 (a
 * token without the `upload` scope). No retry can help, so uploads stop at once.
 */
export class TokenRefusedError extends UploadError {
  override name = 'TokenRefusedError';
  constructor(
    readonly status: number,
    readonly reason: string,
  ) {
    super(`the token was refused — run nook login (${status}: ${reason})`, false, false);
  }
}

/** Nothing answered at the server's address (refused, reset, unknown name, timed out). */
export class ServerUnreachableError extends UploadError {
  override name = 'ServerUnreachableError';
  constructor(readonly detail: string) {
    super(`server unreachable (${detail})`, true, false);
  }
}

/** An HTTP status as an UploadError: 5xx, 429 and 408 pass; 401 and 403 are about the credentials. */
function statusError(status: number, message: string): UploadError {
  if (status === 401 || status === 403) return new TokenRefusedError(status, message);
  const retryable = status >= 500 || status === 429 || status === 408;
  return new UploadError(`${status} ${message}`, retryable, !retryable);
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

/**
 * fetch's network failures (refused, reset, DNS) surface as a TypeError whose cause has the system's
 * code; tRPC wraps that TypeError once more.
 */
function networkError(error: unknown): ServerUnreachableError {
  let deepest = error as { cause?: unknown; code?: unknown; message?: string };
  while (typeof deepest.code !== 'string' && deepest.cause && typeof deepest.cause === 'object')
    deepest = deepest.cause as typeof deepest;
  const code = typeof deepest.code === 'string' ? deepest.code : undefined;
  return new ServerUnreachableError(code ?? deepest.message ?? String(error));
}

/**
 * A failed tRPC call as an UploadError. The status comes from tRPC's error data, or else from the
 * HTTP answer itself (a proxy's or an older server's 401 that is not shaped as tRPC's); no answer at
 * all means the server could not be reached.
 */
function trpcError(error: unknown): unknown {
  if (!(error instanceof TRPCClientError)) return error;
  const data = error.data as { httpStatus?: number } | undefined;
  const meta = error.meta as { response?: { status?: number } } | undefined;
  const status = data?.httpStatus ?? meta?.response?.status ?? 0;
  if (status === 0) return networkError(error);
  return statusError(status, error.message);
}

export interface HashStates {
  /** Intact copies in the user's uploads: no need to send. */
  existing: Set<string>;
  /** Sent before, but the server lost the original (or never kept it): send again. */
  lost: Set<string>;
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

  /**
   * What the server has of these hashes, in batches of at most 1000 as it takes them. Always one
   * request at least, so that an empty list still checks the token and its `upload` scope.
   */
  async hashStates(hashes: string[]): Promise<HashStates> {
    const states: HashStates = { existing: new Set(), lost: new Set() };
    let start = 0;
    do {
      let result: { existing: string[]; lost: string[] };
      try {
        result = await this.trpc.assets.checkExisting.mutate({ sha256: hashes.slice(start, start + 1000) });
      } catch (error) {
        const failure = trpcError(error);
        if (
          !(failure instanceof UploadError) ||
          failure instanceof TokenRefusedError ||
          failure instanceof ServerUnreachableError
        )
          throw failure;
        throw new UploadError(`hash check refused: ${failure.message}`, failure.retryable, false);
      }
      for (const hash of result.existing) states.existing.add(hash);
      for (const hash of result.lost) states.lost.add(hash);
      start += 1000;
    } while (start < hashes.length);
    return states;
  }

  /** Which of these hashes the user already has. */
  async checkExisting(hashes: string[]): Promise<Set<string>> {
    return (await this.hashStates(hashes)).existing;
  }

  /** Who the token belongs to; fails as hashStates does when the token may not upload. */
  async whoami(): Promise<{ username: string }> {
    let me: { username: string };
    try {
      me = await this.trpc.auth.me.query();
    } catch (error) {
      throw trpcError(error);
    }
    await this.hashStates([]);
    return { username: me.username };
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
            reject(new ServerUnreachableError(error.message.split('\n')[0]!));
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
  try {
    await client.auth.login.mutate({ username, password });
    const { token } = await client.auth.createToken.mutate({ name: tokenName, scopes: ['read', 'upload'] });
    await client.auth.logout.mutate();
    return token;
  } catch (error) {
    const failure = trpcError(error);
    // A refused sign-in says why itself (wrong name or password, too many tries): not about a token.
    if (failure instanceof TokenRefusedError) throw new Error(failure.reason);
    throw failure;
  }
}
