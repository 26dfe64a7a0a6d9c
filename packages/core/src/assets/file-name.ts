// Turns a client-supplied file name into one that is safe to create inside the library.
import path from 'node:path';
import { cleanName } from '../names';

const MAX_NAME_BYTES = 200;

export function safeFileName(raw: string): string {
  const base = path.posix.basename(raw.replace(/\\/g, '/'));
  // Control characters break terminals and HTTP headers; bidi overrides disguise the extension.
  let name = cleanName(base).replace(/^\.+/, '');
  if (!name) name = 'upload';
  while (Buffer.byteLength(name) > MAX_NAME_BYTES) {
    const ext = path.extname(name);
    const stem = name.slice(0, name.length - ext.length);
    name = stem.length > 1 ? stem.slice(0, -1) + ext : name.slice(0, -1);
  }
  return name;
}

/** `photo.jpg`, then `photo (1).jpg`, `photo (2).jpg`… */
export function withSuffix(name: string, attempt: number): string {
  if (attempt === 0) return name;
  const ext = path.extname(name);
  return `${name.slice(0, name.length - ext.length)} (${attempt})${ext}`;
}
