// Thumbnails and previews with sharp: one decode of the original feeds both sizes.
import { rename, rm, mkdir } from 'node:fs/promises';
import path from 'node:path';
import sharp from 'sharp';

export const THUMBNAIL_SIZE = 250;
export const PREVIEW_SIZE = 1440;
/** About 268 megapixels (16384²): larger inputs are refused before they are decoded. */
export const MAX_INPUT_PIXELS = 16384 * 16384;

export interface ThumbnailTargets {
  thumbPath: string;
  previewPath: string;
}

export interface ThumbnailResult {
  /** Dimensions of the original as displayed, i.e. after EXIF orientation. */
  width: number;
  height: number;
}

/** EXIF orientations 5–8 turn the picture by 90°, swapping its stored width and height. */
function displayedSize(width: number, height: number, orientation: number | undefined): ThumbnailResult {
  return orientation !== undefined && orientation >= 5 ? { width: height, height: width } : { width, height };
}

async function writeAtomically(target: string, write: (temp: string) => Promise<unknown>): Promise<void> {
  await mkdir(path.dirname(target), { recursive: true });
  const temp = `${target}.${process.pid}.tmp`;
  try {
    await write(temp);
    await rename(temp, target);
  } catch (error) {
    await rm(temp, { force: true });
    throw error;
  }
}

export async function makeThumbnails(source: string, targets: ThumbnailTargets): Promise<ThumbnailResult> {
  const input = sharp(source, { limitInputPixels: MAX_INPUT_PIXELS, failOn: 'error', animated: false });
  const metadata = await input.metadata();
  if (!metadata.width || !metadata.height) throw new Error('image has no dimensions');

  // Knowing the target size up front lets libvips shrink JPEGs while decoding them.
  const { data, info } = await input
    .rotate()
    .resize(PREVIEW_SIZE, PREVIEW_SIZE, { fit: 'inside', withoutEnlargement: true })
    .toColourspace('srgb')
    .raw()
    .toBuffer({ resolveWithObject: true });
  const decoded = () =>
    sharp(data, { raw: { width: info.width, height: info.height, channels: info.channels } });

  await Promise.all([
    writeAtomically(targets.previewPath, (temp) =>
      decoded().flatten({ background: '#ffffff' }).jpeg({ quality: 82, progressive: true }).toFile(temp),
    ),
    writeAtomically(targets.thumbPath, (temp) =>
      decoded()
        .resize(THUMBNAIL_SIZE, THUMBNAIL_SIZE, { fit: 'inside', withoutEnlargement: true })
        .webp({ quality: 78, alphaQuality: 90 })
        .toFile(temp),
    ),
  ]);
  return displayedSize(metadata.width, metadata.height, metadata.orientation);
}
