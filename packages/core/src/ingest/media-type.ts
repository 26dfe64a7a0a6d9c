// The media type of a watched file from the bytes its hash already read, so it is opened only once.
import { fileTypeFromBuffer } from 'file-type';
import mime from 'mime-types';
import { kindOf, type MediaType } from '../assets/media-type';

export async function mediaTypeOf(head: Buffer, fileName: string): Promise<MediaType> {
  const sniffed = head.length ? await fileTypeFromBuffer(head) : undefined;
  const mimeType = sniffed?.mime ?? (mime.lookup(fileName) || 'application/octet-stream');
  return { mime: mimeType, kind: kindOf(mimeType) };
}
