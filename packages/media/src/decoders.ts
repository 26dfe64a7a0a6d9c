// The formats sharp's prebuilt libvips cannot decode itself: HEVC HEIC through ffmpeg (libheif for
// constructs we do not read ourselves), RAW through its preview.
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { MediaError } from './errors';
import { type HeifPicture, annexB, readExtents } from './heif';
import { ToolFailure, runTool } from './tools';

/** The tags Nook reads, under the names both exifr and exiftool give them. */
export interface ExifTags {
  Make?: unknown;
  Model?: unknown;
  LensModel?: unknown;
  Lens?: unknown;
  ISO?: unknown;
  ExposureTime?: unknown;
  FNumber?: unknown;
  FocalLength?: unknown;
  DateTimeOriginal?: unknown;
  OffsetTimeOriginal?: unknown;
  CreateDate?: unknown;
  ModifyDate?: unknown;
  OffsetTimeDigitized?: unknown;
  OffsetTime?: unknown;
  GPSLatitude?: unknown;
  GPSLatitudeRef?: unknown;
  GPSLongitude?: unknown;
  GPSLongitudeRef?: unknown;
  Orientation?: unknown;
  ImageSize?: unknown;
}

const EXIFTOOL_TAGS = [
  'Make',
  'Model',
  'LensModel',
  'Lens',
  'ISO',
  'ExposureTime',
  'FNumber',
  'FocalLength',
  'DateTimeOriginal',
  'OffsetTimeOriginal',
  'CreateDate',
  'ModifyDate',
  'OffsetTimeDigitized',
  'OffsetTime',
  'GPSLatitude',
  'GPSLongitude',
  'Orientation',
  'ImageSize',
];

async function exiftool(
  file: string,
  args: string[],
  signal?: AbortSignal,
  what = 'RAW file',
): Promise<Record<string, unknown>> {
  let stdout: Buffer;
  try {
    // -n gives numbers (signed GPS degrees, seconds of exposure) instead of prose like "1/250".
    ({ stdout } = await runTool('exiftool', ['-json', '-n', ...args, '--', file], {
      signal,
      maxBuffer: 512 * 1024 * 1024,
    }));
  } catch (error) {
    if (!(error instanceof ToolFailure)) throw error;
    // exiftool exits 1 on an unreadable file yet still prints its JSON, with an Error field.
    stdout = error.stdout;
  }
  const record = parseFirstRecord(stdout);
  if (!record) throw new MediaError(`${what} could not be read`, { permanent: true });
  if (typeof record.Error === 'string') {
    throw new MediaError(`${what} could not be read (${record.Error})`, { permanent: true });
  }
  return record;
}

function parseFirstRecord(stdout: Buffer): Record<string, unknown> | undefined {
  try {
    return (JSON.parse(stdout.toString('utf8')) as Record<string, unknown>[])[0];
  } catch {
    return undefined;
  }
}

/** Every tag Nook reads, from any format exiftool knows (RAW files, and EXIF that exifr refuses). */
export async function readExiftoolTags(file: string, signal?: AbortSignal, what?: string): Promise<ExifTags> {
  return exiftool(
    file,
    EXIFTOOL_TAGS.map((tag) => `-${tag}`),
    signal,
    what,
  );
}

export interface RawPreview {
  jpeg: Buffer;
  /** The RAW's own EXIF orientation: embedded previews are stored unrotated and carry none. */
  orientation: number;
}

/**
 * Cameras embed up to three JPEGs under different names (a full-size one in CR2/NEF/DNG,
 * often only a smaller one in ARW/ORF): the largest is the best picture we can get without
 * demosaicing the sensor data.
 */
export async function extractRawPreview(file: string, signal?: AbortSignal): Promise<RawPreview> {
  const record = await exiftool(
    file,
    ['-b', '-PreviewImage', '-JpgFromRaw', '-OtherImage', '-Orientation'],
    signal,
  );
  const previews = ['PreviewImage', 'JpgFromRaw', 'OtherImage']
    .map((tag) => record[tag])
    .filter((value): value is string => typeof value === 'string' && value.startsWith('base64:'))
    .map((value) => Buffer.from(value.slice('base64:'.length), 'base64'))
    .filter((jpeg) => jpeg[0] === 0xff && jpeg[1] === 0xd8);
  const jpeg = previews.sort((a, b) => b.length - a.length)[0];
  if (!jpeg) throw new MediaError('RAW file has no embedded preview image', { permanent: true });
  const orientation = typeof record.Orientation === 'number' ? record.Orientation : 1;
  return { jpeg, orientation };
}

/**
 * Decodes HEVC HEIC with libheif's heif-convert into a temporary high-quality JPEG that
 * sharp then shrinks on load: the way for what decodeHeifPicture leaves aside (10-bit,
 * cropped, derived or unusual pictures). A child process is killable and a libheif crash
 * cannot take the worker down. libheif applies the HEIF rotation and mirror items itself.
 */
export async function withHeifAsJpeg<T>(
  file: string,
  use: (jpeg: string) => Promise<T>,
  signal?: AbortSignal,
): Promise<T> {
  const dir = await mkdtemp(path.join(os.tmpdir(), 'nook-heif-'));
  try {
    const jpeg = path.join(dir, 'decoded.jpg');
    try {
      await runTool('heif-convert', ['--quiet', '-q', '92', file, jpeg], { signal });
    } catch (error) {
      if (!(error instanceof ToolFailure)) throw error;
      const reason = error.stderr.trim().split('\n').at(-1) || 'libheif failed';
      throw new MediaError(`HEIF image is corrupt or unsupported (${reason})`, {
        permanent: true,
        cause: error,
      });
    }
    return await use(jpeg);
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
}

/** ffmpeg's names for the H.273 matrix codes readHeifStructure lets through (2: unspecified). */
const MATRICES: Record<number, string> = { 1: 'bt709', 2: 'bt601', 5: 'bt601', 6: 'bt601', 9: 'bt2020' };

export interface HeifFrame {
  /** Packed 8-bit RGB, transforms applied, at most `longSide` on its long side. */
  rgb: Buffer;
  width: number;
  height: number;
  /** The picture's ICC profile, which the pixels are still in. */
  icc: Buffer | undefined;
}

/**
 * Decodes an HEVC HEIF picture with ffmpeg: the tiles go in as one HEVC stream (one picture
 * each, decoded on every core by frame threads), the `tile` filter lays them out, and the
 * picture is cropped, scaled to the preview size and turned before it leaves ffmpeg, so only
 * preview-sized RGB crosses the pipe. Measured against libde265 (heif-convert) on iPhone-like
 * tiled files, ffmpeg's decoder needs about two thirds of the CPU, and the temporary JPEG
 * round trip is gone (see bench/media/README.md).
 */
export async function decodeHeifPicture(
  file: string,
  picture: HeifPicture,
  longSide: number,
  signal?: AbortSignal,
): Promise<HeifFrame> {
  const { nclx } = picture.colour;
  const matrix = MATRICES[nclx?.matrix ?? 6] ?? 'bt601';
  // One read for all tiles (they lie one after the other in phones' files), then cut apart.
  const joined = await readExtents(
    file,
    picture.tiles.flatMap((tile) => tile.extents),
  );
  let at = 0;
  const data = picture.tiles.map((tile) => {
    const length = tile.extents.reduce((sum, extent) => sum + extent.length, 0);
    at += length;
    return joined.subarray(at - length, at);
  });
  const stream = annexB(picture.tiles, data);

  const scale = Math.min(1, longSide / Math.max(picture.width, picture.height));
  const width = Math.max(1, Math.round(picture.width * scale));
  const height = Math.max(1, Math.round(picture.height * scale));
  const tile = picture.tiles[0]!;
  const filters: string[] = [];
  if (picture.tiles.length > 1) filters.push(`tile=${picture.columns}x${picture.rows}`);
  if (tile.width * picture.columns !== picture.width || tile.height * picture.rows !== picture.height) {
    filters.push(`crop=${picture.width}:${picture.height}:0:0`);
  }
  // Without an nclx box libheif reads the picture as full-range BT.601, and so do we.
  const range = (nclx?.fullRange ?? true) ? 'full' : 'limited';
  filters.push(`scale=${width}:${height}:flags=bicubic:in_range=${range}:in_color_matrix=${matrix}`);
  let turned = false;
  for (const transform of picture.transforms) {
    if ('rotate' in transform) {
      filters.push(['transpose=cclock', 'hflip,vflip', 'transpose=clock'][transform.rotate - 1]!);
      if (transform.rotate !== 2) turned = !turned;
    } else {
      filters.push(transform.mirror === 0 ? 'vflip' : 'hflip');
    }
  }
  filters.push('format=rgb24');

  // The picture comes back through a file: one read, where a pipe hands Node seventy 64 KiB
  // chunks to gather, and with them a major garbage collection per picture.
  const dir = await mkdtemp(path.join(os.tmpdir(), 'nook-heif-'));
  let rgb: Buffer;
  try {
    const output = path.join(dir, 'picture.rgb');
    await runTool(
      'ffmpeg',
      [
        ...['-v', 'error', '-xerror', '-f', 'hevc', '-i', 'pipe:0', '-vf', filters.join(',')],
        ...['-frames:v', '1', '-f', 'rawvideo', output],
      ],
      { signal, input: stream },
    );
    // No frame decoded leaves no file: the size check below says so.
    rgb = await readFile(output).catch(() => Buffer.alloc(0));
  } catch (error) {
    if (!(error instanceof ToolFailure)) throw error;
    const reason =
      error.stderr
        .trim()
        .split('\n')
        .at(-1)
        ?.replace(/^\[[^\]]+\]\s*/, '') || 'ffmpeg failed';
    throw new MediaError(`HEIF image is corrupt or unsupported (${reason})`, {
      permanent: true,
      cause: error,
    });
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
  const [outWidth, outHeight] = turned ? [height, width] : [width, height];
  if (rgb.length !== outWidth * outHeight * 3) {
    throw new MediaError('HEIF image is corrupt or unsupported (its tiles did not decode)', {
      permanent: true,
    });
  }
  return { rgb, width: outWidth, height: outHeight, icc: picture.colour.icc };
}

/**
 * An uncompressed RGB TIFF around the pixels, so that sharp converts them from their ICC
 * profile (iPhones tag Display P3) to sRGB like any other tagged image.
 */
export function tiffWithIcc(rgb: Buffer, width: number, height: number, icc: Buffer): Buffer {
  const entries: [tag: number, type: number, count: number, value: number | Buffer][] = [
    [256, 4, 1, width],
    [257, 4, 1, height],
    [258, 3, 3, Buffer.from([8, 0, 8, 0, 8, 0])],
    [259, 3, 1, 1],
    [262, 3, 1, 2],
    [273, 4, 1, 0],
    [277, 3, 1, 3],
    [278, 4, 1, height],
    [279, 4, 1, rgb.length],
    [284, 3, 1, 1],
    [34675, 7, icc.length, icc],
  ];
  const ifdAt = 8;
  const ifdLength = 2 + entries.length * 12 + 4;
  let extraAt = ifdAt + ifdLength;
  const extras: Buffer[] = [];
  const ifd = Buffer.alloc(ifdLength);
  ifd.writeUInt16LE(entries.length, 0);
  const placed = entries.map(([tag, type, count, value]) => {
    if (Buffer.isBuffer(value) && value.length > 4) {
      const at = extraAt;
      const padded = value.length % 2 ? Buffer.concat([value, Buffer.alloc(1)]) : value;
      extras.push(padded);
      extraAt += padded.length;
      return [tag, type, count, at] as const;
    }
    return [tag, type, count, value] as const;
  });
  const pixelsAt = extraAt;
  placed.forEach(([tag, type, count, value], i) => {
    const at = 2 + i * 12;
    ifd.writeUInt16LE(tag, at);
    ifd.writeUInt16LE(type, at + 2);
    ifd.writeUInt32LE(count, at + 4);
    if (tag === 273) ifd.writeUInt32LE(pixelsAt, at + 8);
    else if (Buffer.isBuffer(value)) value.copy(ifd, at + 8);
    else if (type === 3) ifd.writeUInt16LE(value, at + 8);
    else ifd.writeUInt32LE(value, at + 8);
  });
  const header = Buffer.from([0x49, 0x49, 42, 0, ifdAt, 0, 0, 0]);
  return Buffer.concat([header, ifd, ...extras, rgb]);
}
