// Decides what a file is from its bytes (magic numbers), falling back to its name.
import { fileTypeFromFile } from 'file-type';
import mime from 'mime-types';
import type { AssetKind } from './asset.entity';

export interface MediaType {
  mime: string;
  kind: AssetKind;
}

export function kindOf(mimeType: string): AssetKind {
  if (mimeType.startsWith('image/')) return 'image';
  if (mimeType.startsWith('video/')) return 'video';
  return 'other';
}

export async function detectMediaType(filePath: string, fileName: string): Promise<MediaType> {
  const sniffed = await fileTypeFromFile(filePath);
  const mimeType = sniffed?.mime ?? (mime.lookup(fileName) || 'application/octet-stream');
  return { mime: mimeType, kind: kindOf(mimeType) };
}
