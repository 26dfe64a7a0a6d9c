// The formats sharp's prebuilt libvips cannot decode itself: HEVC HEIC through libheif, RAW through its preview.
import { mkdtemp, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { MediaError } from './errors';
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
  if (!record) throw new MediaError('RAW file could not be read', { permanent: true });
  if (typeof record.Error === 'string') {
    throw new MediaError(`RAW file could not be read (${record.Error})`, { permanent: true });
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

export async function readRawTags(file: string, signal?: AbortSignal): Promise<ExifTags> {
  return exiftool(
    file,
    EXIFTOOL_TAGS.map((tag) => `-${tag}`),
    signal,
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
 * sharp then shrinks on load. Measured against WASM libheif in-process (see the bench
 * README): as fast on x86, native NEON on a Pi, killable, and a libheif crash cannot take
 * the worker down. libheif applies the HEIF rotation and mirror items itself.
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
