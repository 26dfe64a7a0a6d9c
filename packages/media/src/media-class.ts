// Which pipeline a file belongs to, from its MIME type and file name.
import path from 'node:path';

export type MediaClass = 'image' | 'heif' | 'raw' | 'video' | 'other';

const RAW_EXTENSIONS = new Set(['.dng', '.cr2', '.cr3', '.nef', '.arw', '.raf', '.orf', '.rw2']);
const RAW_MIMES = new Set([
  'image/x-adobe-dng',
  'image/dng',
  'image/x-canon-cr2',
  'image/x-canon-cr3',
  'image/x-nikon-nef',
  'image/x-sony-arw',
  'image/x-fuji-raf',
  'image/x-olympus-orf',
  'image/x-panasonic-rw2',
  'image/x-panasonic-raw',
]);
const HEIF_EXTENSIONS = new Set(['.heic', '.heif', '.hif']);
const HEIF_MIMES = new Set(['image/heic', 'image/heif', 'image/heic-sequence', 'image/heif-sequence']);
/** What sharp's prebuilt libvips decodes (AVIF is HEIF with AV1, which it does read). */
const IMAGE_EXTENSIONS = new Set([
  '.jpg',
  '.jpeg',
  '.jpe',
  '.png',
  '.webp',
  '.gif',
  '.avif',
  '.tif',
  '.tiff',
]);
const IMAGE_MIMES = new Set([
  'image/jpeg',
  'image/png',
  'image/webp',
  'image/gif',
  'image/avif',
  'image/tiff',
]);
const VIDEO_EXTENSIONS = new Set(['.mp4', '.m4v', '.mov', '.3gp', '.mkv', '.webm', '.avi', '.mts', '.m2ts']);

/**
 * RAW is decided by extension first: uploads of camera files often arrive as
 * application/octet-stream or image/tiff, and DNG/NEF/ARW are TIFF inside.
 */
export function mediaClassOf(mime: string, fileName: string): MediaClass {
  const extension = path.extname(fileName).toLowerCase();
  const type = mime.toLowerCase().split(';')[0]!.trim();
  if (RAW_EXTENSIONS.has(extension) || RAW_MIMES.has(type)) return 'raw';
  if (HEIF_EXTENSIONS.has(extension) || HEIF_MIMES.has(type)) return 'heif';
  if (IMAGE_MIMES.has(type) || IMAGE_EXTENSIONS.has(extension)) return 'image';
  if (type.startsWith('video/') || VIDEO_EXTENSIONS.has(extension)) return 'video';
  return 'other';
}
