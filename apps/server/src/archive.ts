// Many originals as one download: a zip written as it is sent. Photos and videos are compressed
// already, so entries are stored as they are; with every size known, so is the zip's length, and
// the browser shows real progress.
import { createReadStream } from 'node:fs';
import { stat } from 'node:fs/promises';
import { Readable, type PassThrough } from 'node:stream';
import { NookError } from '@nook/core';
import { create as contentDisposition } from 'content-disposition';
import type { FastifyReply } from 'fastify';
import { ZipFile } from 'yazl';

export interface ArchiveMember {
  name: string;
  /** Where the original is; null when it could not be found (an offline share, a vanished file). */
  filePath: string | null;
  takenAt: Date;
}

/** Same reading size as a single original (see files.ts). */
const READ_CHUNK_BYTES = 4 * 1024 * 1024;

const MISSING_LIST = 'NOT INCLUDED.txt';

/**
 * Names unique within the archive, ignoring case (it is unpacked onto Windows and macOS file
 * systems): a second IMG_0001.JPG becomes IMG_0001 (2).JPG; a\b.jpg becomes a_b.jpg.
 */
export function uniqueNames(names: readonly string[]): string[] {
  const taken = new Set<string>([MISSING_LIST.toLowerCase()]);
  return names.map((original) => {
    // A name, never a path: no separators (zip readers treat a backslash as one too), no drive colon.
    const name = original.replace(/[\\/:]/g, '_').replace(/^\.+$/, '_') || '_';
    const dot = name.lastIndexOf('.');
    const [stem, extension] = dot > 0 ? [name.slice(0, dot), name.slice(dot)] : [name, ''];
    let candidate = name;
    for (let copy = 2; taken.has(candidate.toLowerCase()); copy++)
      candidate = `${stem} (${copy})${extension}`;
    taken.add(candidate.toLowerCase());
    return candidate;
  });
}

/**
 * Streams the members as `fileName`. Originals missing before the first byte are listed in a text
 * file inside; one that fails part-way aborts the response, so the browser reports a failed
 * download instead of saving a zip that silently lacks it.
 */
export async function sendArchive(
  reply: FastifyReply,
  members: readonly ArchiveMember[],
  fileName: string,
): Promise<FastifyReply> {
  const present: (ArchiveMember & { filePath: string; size: number })[] = [];
  const missing: string[] = [];
  for (const member of members) {
    const info = member.filePath ? await stat(member.filePath).catch(() => null) : null;
    if (info?.isFile()) present.push({ ...member, filePath: member.filePath!, size: info.size });
    else missing.push(member.name);
  }
  if (present.length === 0) throw new NookError('NOT_FOUND', 'none of these originals is on disk');

  const zip = new ZipFile();
  const output = zip.outputStream as PassThrough;
  // yazl pipes what it is given without watching it: a read error must end the response here, and
  // a response ended early (the download cancelled) must close the file being read.
  let reading: Readable | null = null;
  output.on('close', () => reading?.destroy());
  const names = uniqueNames(present.map((member) => member.name));
  present.forEach((member, index) => {
    zip.addReadStreamLazy(
      names[index]!,
      { size: member.size, mtime: member.takenAt, compress: false },
      (done) => {
        // Only the bytes counted up front: a file growing meanwhile would overrun Content-Length.
        reading =
          member.size === 0
            ? Readable.from([])
            : createReadStream(member.filePath, { end: member.size - 1, highWaterMark: READ_CHUNK_BYTES });
        reading.on('error', (error) => output.destroy(error));
        done(null, reading);
      },
    );
  });
  if (missing.length > 0) {
    const text = `These files were not on disk when this archive was made:\n${missing.join('\n')}\n`;
    zip.addBuffer(Buffer.from(text), MISSING_LIST, { compress: false, mtime: new Date() });
  }
  zip.on('error', (error: Error) => {
    reply.log.warn({ err: error }, 'archive aborted: an original could not be read');
    output.destroy(error);
  });
  const length = await new Promise<number>((resolve) =>
    (zip.end as (options: object, sized: (bytes: number) => void) => void)({}, resolve),
  );
  if (length >= 0) reply.header('Content-Length', length);
  return reply
    .header('Content-Type', 'application/zip')
    .header('Content-Disposition', contentDisposition(fileName))
    .header('Cache-Control', 'private, no-store')
    .send(output);
}
