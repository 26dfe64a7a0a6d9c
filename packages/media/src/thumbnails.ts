// Thumbnails, previews and thumbhashes with sharp: one shrink-on-load decode of the original feeds all three.
import { randomBytes } from 'node:crypto';
import { mkdir, rename, rm } from 'node:fs/promises';
import path from 'node:path';
import sharp from 'sharp';
import { rgbaToThumbHash } from 'thumbhash';
import { decodeHeifPicture, extractRawPreview, tiffWithIcc, withHeifAsJpeg } from './decoders';
import { MediaError, assertReadableFile, fileError } from './errors';
import { readHeifStructure } from './heif';
import { type MediaClass, mediaClassOf } from './media-class';

export const THUMBNAIL_SIZE = 250;
export const PREVIEW_SIZE = 1440;
/** ThumbHash encodes at most 100×100 pixels. */
const THUMBHASH_SIZE = 100;
/** About 268 megapixels (16384²): larger inputs are refused before they are decoded. */
export const MAX_INPUT_PIXELS = 16384 * 16384;

// libvips caches operations for repeats; a worker never sees the same file or buffer twice, so the
// cache (up to 50 MB by default) would only hold memory a Pi running two jobs needs.
sharp.cache(false);

export interface ThumbnailTargets {
  thumbPath: string;
  previewPath: string;
}

export interface ThumbnailOptions {
  /** Defaults to the class of the source's file extension (see mediaClassOf). */
  mediaClass?: MediaClass;
  /** Kills the HEIF or RAW decoder child when the job expires. */
  signal?: AbortSignal;
}

export interface ThumbnailResult {
  /** Dimensions of the picture as displayed, i.e. after orientation. */
  width: number;
  height: number;
  /** Base64 ThumbHash, painted by the grid while the thumbnail loads. */
  thumbhash: string;
}

/** An image decoded once, already oriented and in sRGB, at most PREVIEW_SIZE on its long side. */
export interface DecodedFrame {
  data: Buffer;
  width: number;
  height: number;
  channels: 1 | 2 | 3 | 4;
}

type Orientation = 'exif' | number;

/** sharp applies flip and flop before rotation: these pairs reproduce EXIF orientations 2–8. */
const ORIENTATIONS: Record<number, { angle: number; flip?: boolean; flop?: boolean }> = {
  2: { angle: 0, flop: true },
  3: { angle: 180 },
  4: { angle: 0, flip: true },
  5: { angle: 90, flip: true },
  6: { angle: 90 },
  7: { angle: 90, flop: true },
  8: { angle: 270 },
};

export async function makeThumbnails(
  source: string,
  targets: ThumbnailTargets,
  options: ThumbnailOptions = {},
): Promise<ThumbnailResult> {
  await assertReadableFile(source);
  const mediaClass = options.mediaClass ?? mediaClassOf('', source);
  if (mediaClass === 'raw') {
    const preview = await extractRawPreview(source, options.signal);
    const frame = await decodeImage(preview.jpeg, preview.orientation);
    return { width: frame.width, height: frame.height, ...(await writeDerivatives(frame, targets)) };
  }

  const header = await readImageHeader(source);
  // Trust the bytes over the name: a .heic may be a JPEG, and a .jpg may be an iPhone HEIC.
  if (header.format === 'heif' && header.compression === 'hevc') {
    const frame = await decodeHevcHeif(source, options.signal);
    return { width: header.width, height: header.height, ...(await writeDerivatives(frame, targets)) };
  }
  const frame = await decodeImage(source, 'exif');
  return { width: header.width, height: header.height, ...(await writeDerivatives(frame, targets)) };
}

/**
 * HEVC HEIF through ffmpeg when we can read its layout (a single picture or a grid of tiles,
 * turned and mirrored by irot/imir: what phones write); anything else through libheif's
 * heif-convert. The embedded thumbnail is not used: on iPhones it is 320×240, far below the
 * preview's size, and the full decode makes the small sizes for free.
 */
async function decodeHevcHeif(source: string, signal: AbortSignal | undefined): Promise<DecodedFrame> {
  let structure;
  try {
    structure = await readHeifStructure(source);
  } catch (error) {
    throw fileError(error);
  }
  if (!structure.picture) return withHeifAsJpeg(source, (jpeg) => decodeImage(jpeg, 1), signal);
  const { rgb, width, height, icc } = await decodeHeifPicture(
    source,
    structure.picture,
    PREVIEW_SIZE,
    signal,
  );
  if (icc) return decodeImage(tiffWithIcc(rgb, width, height, icc), 1);
  return { data: rgb, width, height, channels: 3 };
}

export interface ImageHeader {
  format: string;
  compression: string | undefined;
  /** As displayed: EXIF orientation applied (HEIF and AVIF carry theirs in the container). */
  width: number;
  height: number;
  orientation: number | undefined;
  exif: Buffer | undefined;
}

/**
 * Reads only the header, so a decompression bomb is refused in milliseconds with its
 * real size in the reason instead of sharp's generic pixel-limit message.
 */
export async function readImageHeader(source: string | Buffer): Promise<ImageHeader> {
  let metadata: sharp.Metadata;
  try {
    metadata = await sharp(source, { limitInputPixels: false, animated: false }).metadata();
  } catch (error) {
    throw imageError(error);
  }
  const { width, height } = metadata;
  if (!width || !height) throw new MediaError('image has no dimensions', { permanent: true });
  if (width * height > MAX_INPUT_PIXELS) {
    const limit = Math.round(MAX_INPUT_PIXELS / 1e6);
    throw new MediaError(`image is ${width}×${height} pixels, more than the ${limit} megapixel limit`, {
      permanent: true,
    });
  }
  const turned = metadata.format !== 'heif' && (metadata.orientation ?? 1) >= 5;
  return {
    format: metadata.format,
    compression: metadata.compression,
    width: turned ? height : width,
    height: turned ? width : height,
    orientation: metadata.orientation,
    exif: metadata.exif,
  };
}

/**
 * The one decode: naming the target size lets libvips shrink JPEG and WebP while decoding
 * (several times faster than a full decode on a Pi); animations give their first frame and
 * embedded ICC profiles are converted to sRGB on the way out.
 */
export async function decodeImage(input: string | Buffer, orientation: Orientation): Promise<DecodedFrame> {
  let pipeline = sharp(input, {
    limitInputPixels: MAX_INPUT_PIXELS,
    failOn: 'error',
    animated: false,
    autoOrient: orientation === 'exif',
  });
  const turn = typeof orientation === 'number' ? ORIENTATIONS[orientation] : undefined;
  if (turn)
    pipeline = pipeline
      .rotate(turn.angle)
      .flip(turn.flip ?? false)
      .flop(turn.flop ?? false);
  try {
    const { data, info } = await pipeline
      .resize(PREVIEW_SIZE, PREVIEW_SIZE, { fit: 'inside', withoutEnlargement: true })
      .toColourspace('srgb')
      .raw()
      .toBuffer({ resolveWithObject: true });
    return { data, width: info.width, height: info.height, channels: info.channels };
  } catch (error) {
    throw imageError(error);
  }
}

/**
 * Writes preview.jpg and thumb.webp and computes the thumbhash, all from memory. The
 * thumbhash comes from the small thumbnail pixels rather than the preview: a tenth of the work.
 * The preview is baseline JPEG: progressive doubled its encoding time for a slightly smaller file.
 * Encoder settings are chosen for CPU, which a Pi ingesting a library is short of (see the media
 * bench): optimised Huffman tables would make the preview 9 % smaller for 4.6 ms more per image
 * (+60 % of its encoding), and WebP's effort 4 the thumbnail 4 % smaller for 2.2 ms more.
 */
export async function writeDerivatives(
  frame: DecodedFrame,
  targets: ThumbnailTargets,
): Promise<{ thumbhash: string }> {
  const raw = (image: { data: Buffer; width: number; height: number; channels: number }) =>
    sharp(image.data, {
      raw: { width: image.width, height: image.height, channels: image.channels as 1 | 2 | 3 | 4 },
    });
  const thumbnail = async () => {
    const small = await raw(frame)
      .resize(THUMBNAIL_SIZE, THUMBNAIL_SIZE, { fit: 'inside', withoutEnlargement: true })
      .raw()
      .toBuffer({ resolveWithObject: true });
    const pixels = { data: small.data, ...small.info };
    const [hash] = await Promise.all([
      raw(pixels)
        .resize(THUMBHASH_SIZE, THUMBHASH_SIZE, { fit: 'inside', withoutEnlargement: true })
        .ensureAlpha()
        .raw()
        .toBuffer({ resolveWithObject: true }),
      writeAtomically(targets.thumbPath, (temp) =>
        raw(pixels).webp({ quality: 78, alphaQuality: 90, effort: 2 }).toFile(temp),
      ),
    ]);
    return Buffer.from(rgbaToThumbHash(hash.info.width, hash.info.height, hash.data)).toString('base64');
  };
  const [thumbhash] = await Promise.all([
    thumbnail(),
    writeAtomically(targets.previewPath, (temp) =>
      raw(frame).flatten({ background: '#ffffff' }).jpeg({ quality: 82, optimiseCoding: false }).toFile(temp),
    ),
  ]);
  return { thumbhash };
}

async function writeAtomically(target: string, write: (temp: string) => Promise<unknown>): Promise<void> {
  // Readers of the target never see a half-written file; the random part keeps two attempts apart.
  const temp = `${target}.${randomBytes(4).toString('hex')}.tmp`;
  try {
    await mkdir(path.dirname(target), { recursive: true });
    await write(temp);
    await rename(temp, target);
  } catch (error) {
    await rm(temp, { force: true });
    throw fileError(error);
  }
}

const DECODER_NAMES: [RegExp, string][] = [
  [/^VipsJpeg: /i, 'JPEG: '],
  [/^(VipsForeignLoadPng\w*|pngload\w*|spng|libspng): /i, 'PNG: '],
  [/^(VipsForeignLoadWebp\w*|webpload\w*): /i, 'WebP: '],
  [/^(VipsForeignLoadGif\w*|gifload\w*): /i, 'GIF: '],
  [/^(VipsTiff|tiff2vips|TIFFReadDirectory|tiffload\w*): /i, 'TIFF: '],
  [/^(VipsForeignLoadHeif\w*|heifload\w*|heif): /i, 'HEIF: '],
];

/** Turns sharp's messages into a reason a person can read in the failed-assets list. */
export function imageError(error: unknown): MediaError {
  if (error instanceof MediaError) return error;
  const message = error instanceof Error ? error.message : String(error);
  if (/^Input file is missing/.test(message)) {
    return new MediaError('file not found', { permanent: false, cause: error });
  }
  if (/unsupported image format/i.test(message)) {
    return new MediaError('unsupported or unrecognised image format', { permanent: true, cause: error });
  }
  if (/exceeds pixel limit/i.test(message)) {
    const limit = Math.round(MAX_INPUT_PIXELS / 1e6);
    return new MediaError(`image is more than the ${limit} megapixel limit`, {
      permanent: true,
      cause: error,
    });
  }
  const lines = message.split('\n').filter((line) => line.trim() && !/^(vips2|VipsImage|vips_)/.test(line));
  let detail = (lines[0] ?? message).trim();
  for (const [pattern, name] of DECODER_NAMES) detail = detail.replace(pattern, name);
  detail = detail.replace(
    /(: )([A-Z])(?=[a-z])/,
    (_, sep: string, letter: string) => sep + letter.toLowerCase(),
  );
  return new MediaError(`image is truncated or corrupt (${detail})`, { permanent: true, cause: error });
}
