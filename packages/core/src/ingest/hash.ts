// Hashes a file in place with large reads, keeping its first bytes for type detection.
import { createHash } from 'node:crypto';
import { open } from 'node:fs/promises';

/** Node's SHA-256 keeps up with openssl only when fed about 1 MiB at a time (64 KiB runs at half speed). */
const READ_SIZE = 1024 * 1024;
/** Enough for file-type to recognise every format it knows. */
const HEAD_SIZE = 4100;

export interface FileDigest {
  sha256: string;
  size: number;
  /** The first bytes, for sniffing the media type without opening the file again. */
  head: Buffer;
}

export async function hashFile(filePath: string): Promise<FileDigest> {
  const handle = await open(filePath, 'r');
  try {
    const hash = createHash('sha256');
    const buffer = Buffer.allocUnsafe(READ_SIZE);
    let head: Buffer | null = null;
    let size = 0;
    for (;;) {
      const { bytesRead } = await handle.read(buffer, 0, READ_SIZE, null);
      if (bytesRead === 0) break;
      if (!head) head = Buffer.from(buffer.subarray(0, Math.min(bytesRead, HEAD_SIZE)));
      hash.update(buffer.subarray(0, bytesRead));
      size += bytesRead;
    }
    return { sha256: hash.digest('hex'), size, head: head ?? Buffer.alloc(0) };
  } finally {
    await handle.close();
  }
}
