// MediaError: why a media function failed, and whether retrying the job could ever help.
import { stat } from 'node:fs/promises';

export class MediaError extends Error {
  override readonly name = 'MediaError';

  /**
   * True when the input itself is bad or unsupported (corrupt, truncated, empty, too large):
   * the worker should fail the asset at once instead of retrying.
   */
  readonly permanent: boolean;

  constructor(message: string, options: { permanent: boolean; cause?: unknown }) {
    super(message, { cause: options.cause });
    this.permanent = options.permanent;
  }
}

const PERMANENT_FS_CODES = new Set(['EISDIR', 'ENOTDIR', 'ELOOP', 'ENAMETOOLONG']);

/** File-system failures are transient unless the path can never name a readable file. */
export function fileError(error: unknown): MediaError {
  if (error instanceof MediaError) return error;
  const code = (error as NodeJS.ErrnoException | undefined)?.code;
  const describe: Record<string, string> = {
    ENOENT: 'file not found',
    EACCES: 'file is not readable (permission denied)',
    EIO: 'input/output error while reading the file',
    EISDIR: 'path is a directory, not a file',
  };
  const message = (code && describe[code]) ?? `cannot read the file (${code ?? String(error)})`;
  return new MediaError(message, {
    permanent: code !== undefined && PERMANENT_FS_CODES.has(code),
    cause: error,
  });
}

/** Checks the file before any decoder sees it, so a missing or empty file gets a plain reason. */
export async function assertReadableFile(file: string): Promise<number> {
  let size: number;
  try {
    const stats = await stat(file);
    if (stats.isDirectory()) throw Object.assign(new Error(file), { code: 'EISDIR' });
    size = stats.size;
  } catch (error) {
    throw fileError(error);
  }
  if (size === 0) throw new MediaError('empty file', { permanent: true });
  return size;
}
