// Receives a byte stream into <data>/tmp while hashing it, so nothing half-written reaches the library.
import { createHash, randomUUID } from 'node:crypto';
import { createWriteStream } from 'node:fs';
import { rm } from 'node:fs/promises';
import path from 'node:path';
import { Transform, type Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';

export interface ReceivedFile {
  tempPath: string;
  sha256: string;
  size: number;
}

/** Thrown when a stream grows past the allowed size; the partial file is already gone. */
export class TooLargeError extends Error {
  override name = 'TooLargeError';
  constructor(readonly limit: number) {
    super(`file is larger than the limit of ${limit} bytes`);
  }
}

/**
 * Streams `source` into a new temp file. `reserve` is told of each chunk before it is written and
 * may refuse it by throwing (a quota): the stream then fails and the partial file is removed.
 */
export async function receiveToTemp(
  source: Readable,
  tmpDir: string,
  maxBytes = Infinity,
  reserve?: (bytes: number) => void,
): Promise<ReceivedFile> {
  const tempPath = path.join(tmpDir, `${randomUUID()}.part`);
  const hash = createHash('sha256');
  let size = 0;
  const meter = new Transform({
    transform(chunk: Buffer, _encoding, callback) {
      size += chunk.length;
      if (size > maxBytes) {
        callback(new TooLargeError(maxBytes));
        return;
      }
      try {
        reserve?.(chunk.length);
      } catch (error) {
        callback(error as Error);
        return;
      }
      hash.update(chunk);
      callback(null, chunk);
    },
  });
  try {
    await pipeline(source, meter, createWriteStream(tempPath, { flags: 'wx', highWaterMark: 1024 * 1024 }));
  } catch (error) {
    await rm(tempPath, { force: true });
    throw error;
  }
  return { tempPath, sha256: hash.digest('hex'), size };
}
