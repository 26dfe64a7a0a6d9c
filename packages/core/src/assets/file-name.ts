// Turns a client-supplied file name into one that is safe to create inside the library.
import path from 'node:path';

const MAX_NAME_BYTES = 200;

export function safeFileName(raw: string): string {
  const base = path.posix.basename(raw.replace(/\\/g, '/'));
  let name = base
    // Control characters in a name break terminals and HTTP headers.
    // eslint-disable-next-line no-control-regex
    .replace(/[\u0000-\u001f\u007f]/g, '')
    .trim()
    .replace(/^\.+/, '');
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
