// Image metadata: displayed size, when and where the photo was taken, and with what camera.
import exifr from 'exifr';
import { type ExifTags, readExiftoolTags } from './decoders';
import { MediaError, assertReadableFile } from './errors';
import { type MediaClass, mediaClassOf } from './media-class';
import { readImageHeader } from './thumbnails';

export type TakenAtSource = 'exif-original' | 'exif-digitized' | 'exif-create';

export interface ImageMetadata {
  /** After orientation, as the picture is shown. */
  width: number;
  height: number;
  /**
   * The instant the photo was taken. When the camera recorded no time-zone offset, the EXIF
   * wall-clock time is stored as if it were UTC and timeZoneOffset is null: the picture then
   * shows the time the camera's clock showed, whatever the server's time zone.
   */
  takenAt: Date | null;
  takenAtSource: TakenAtSource | null;
  /** The recorded offset, e.g. "+02:00"; null when the camera recorded none. */
  timeZoneOffset: string | null;
  make: string | null;
  model: string | null;
  lens: string | null;
  iso: number | null;
  /** Seconds. */
  exposureTime: number | null;
  fNumber: number | null;
  /** Millimetres, as the lens reports it (not the 35 mm equivalent). */
  focalLength: number | null;
  latitude: number | null;
  longitude: number | null;
}

export interface MetadataOptions {
  /** Defaults to the class of the file's extension (see mediaClassOf). */
  mediaClass?: MediaClass;
  /** Stops exiftool (RAW files, EXIF that exifr refuses) when the job expires. */
  signal?: AbortSignal;
}

const EXIFR_OPTIONS = {
  tiff: true,
  exif: true,
  gps: true,
  ifd1: false,
  xmp: false,
  icc: false,
  iptc: false,
  jfif: false,
  ihdr: false,
  // Raw strings: exifr would otherwise build Dates in the server's own time zone.
  reviveValues: false,
  translateValues: false,
  translateKeys: true,
} as const;

export async function readImageMetadata(file: string, options: MetadataOptions = {}): Promise<ImageMetadata> {
  await assertReadableFile(file);
  const mediaClass = options.mediaClass ?? mediaClassOf('', file);
  if (mediaClass === 'raw') {
    const tags = await readExiftoolTags(file, options.signal);
    const [width, height] = String(tags.ImageSize ?? '')
      .split(/[ x]/)
      .map(Number);
    if (!width || !height) throw new MediaError('RAW file has no image dimensions', { permanent: true });
    const turned = typeof tags.Orientation === 'number' && tags.Orientation >= 5;
    return { width: turned ? height : width, height: turned ? width : height, ...fromExifTags(tags) };
  }

  const header = await readImageHeader(file);
  // exifr finds EXIF in the file for every format but WebP, whose EXIF chunk libvips extracts.
  const source = header.format === 'webp' ? tiffOf(header.exif) : file;
  let tags: ExifTags = {};
  if (source) tags = (await readWithExifr(source)) ?? (await readWithExiftool(file, options.signal));
  return { width: header.width, height: header.height, ...fromExifTags(tags) };
}

/**
 * exifr's tags, or undefined when it failed: it throws on some files and lists errors for
 * others. A format exifr does not read at all (GIF) is not a failure: it carries no EXIF.
 */
async function readWithExifr(source: string | Buffer): Promise<ExifTags | undefined> {
  try {
    const tags = (await exifr.parse(source, EXIFR_OPTIONS)) as
      (ExifTags & { errors?: unknown[] }) | undefined;
    if (tags?.errors?.length) return undefined;
    return tags ?? {};
  } catch (error) {
    return error instanceof Error && /^Unknown file format/.test(error.message) ? {} : undefined;
  }
}

/**
 * exiftool reads what exifr refuses, such as the EXIF of HEIC files libheif writes (their
 * EXIF item says its TIFF header is at offset 0 while an "Exif\0\0" preamble comes first).
 * Broken EXIF must not fail a picture that decodes: it then simply has no camera details.
 */
async function readWithExiftool(file: string, signal: AbortSignal | undefined): Promise<ExifTags> {
  try {
    return await readExiftoolTags(file, signal, 'image');
  } catch (error) {
    if (error instanceof MediaError && !error.permanent) throw error;
    return {};
  }
}

/** libvips hands WebP EXIF over with its "Exif\0\0" preamble; exifr wants the TIFF structure. */
function tiffOf(exif: Buffer | undefined): Buffer | undefined {
  if (!exif) return undefined;
  return exif.subarray(0, 6).toString('latin1') === 'Exif\0\0' ? exif.subarray(6) : exif;
}

type Details = Omit<ImageMetadata, 'width' | 'height'>;

export function fromExifTags(tags: ExifTags): Details {
  // EXIF 0x9004 DateTimeDigitized is "CreateDate" to exifr and exiftool; 0x0132 DateTime,
  // "ModifyDate" to them, is when the camera wrote the file: the last resort before file times.
  const taken =
    takenAt(tags.DateTimeOriginal, tags.OffsetTimeOriginal ?? tags.OffsetTime, 'exif-original') ??
    takenAt(tags.CreateDate, tags.OffsetTimeDigitized ?? tags.OffsetTime, 'exif-digitized') ??
    takenAt(tags.ModifyDate, tags.OffsetTime, 'exif-create');
  return {
    takenAt: taken?.date ?? null,
    takenAtSource: taken?.source ?? null,
    timeZoneOffset: taken?.offset ?? null,
    make: text(tags.Make),
    model: text(tags.Model),
    lens: text(tags.LensModel) ?? text(tags.Lens),
    iso: positive(Array.isArray(tags.ISO) ? tags.ISO[0] : tags.ISO),
    exposureTime: positive(tags.ExposureTime),
    fNumber: positive(tags.FNumber),
    focalLength: positive(tags.FocalLength),
    latitude: coordinate(tags.GPSLatitude, tags.GPSLatitudeRef, 'S', 90),
    longitude: coordinate(tags.GPSLongitude, tags.GPSLongitudeRef, 'W', 180),
  };
}

function text(value: unknown): string | null {
  if (typeof value !== 'string') return null;
  // Cameras pad fixed-size fields with NULs and spaces.
  const trimmed = value.replace(/\0.*$/s, '').trim();
  return trimmed || null;
}

function positive(value: unknown): number | null {
  return typeof value === 'number' && Number.isFinite(value) && value > 0 ? value : null;
}

/** exifr gives [degrees, minutes, seconds] and a reference letter; exiftool -n a signed number. */
function coordinate(value: unknown, ref: unknown, negativeRef: string, max: number): number | null {
  let degrees: number | null = null;
  if (typeof value === 'number') degrees = value;
  if (Array.isArray(value) && value.every((part) => typeof part === 'number')) {
    const [d = 0, m = 0, s = 0] = value as number[];
    degrees = d + m / 60 + s / 3600;
  }
  if (degrees === null || !Number.isFinite(degrees)) return null;
  if (typeof ref === 'string' && ref.trim().toUpperCase() === negativeRef) degrees = -Math.abs(degrees);
  return Math.abs(degrees) <= max ? degrees : null;
}

const EXIF_DATE = /^(\d{4}):(\d{2}):(\d{2})[ T](\d{2}):(\d{2}):(\d{2})(?:\.(\d+))?/;
const OFFSET = /^([+-])(\d{2}):?(\d{2})$/;

function takenAt(
  value: unknown,
  offsetValue: unknown,
  source: TakenAtSource,
): { date: Date; source: TakenAtSource; offset: string | null } | null {
  const match = typeof value === 'string' ? EXIF_DATE.exec(value.trim()) : null;
  if (!match) return null;
  const [year, month, day, hour, minute, second] = match.slice(1, 7).map(Number) as number[];
  // Cameras with an unset clock write "0000:00:00 00:00:00": no date is better than year 0.
  if (!year || !month || !day || month > 12 || day > 31 || hour! > 23 || minute! > 59 || second! > 60)
    return null;
  const millis = Number((match[7] ?? '0').padEnd(3, '0').slice(0, 3));
  const wallClock = Date.UTC(year, month - 1, day, hour!, minute!, second!, millis);
  const offset = typeof offsetValue === 'string' ? OFFSET.exec(offsetValue.trim()) : null;
  if (!offset) return { date: new Date(wallClock), source, offset: null };
  const [, sign, hours, minutes] = offset;
  const offsetMinutes = (sign === '-' ? -1 : 1) * (Number(hours) * 60 + Number(minutes));
  return {
    date: new Date(wallClock - offsetMinutes * 60_000),
    source,
    offset: `${sign}${hours}:${minutes}`,
  };
}
