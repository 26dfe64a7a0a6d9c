// Real media files for the tests and the bench, made with sharp, ffmpeg, heif-enc and a DNG writer.
import { execFile } from 'node:child_process';
import { rm, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { promisify } from 'node:util';
import { deflateSync } from 'node:zlib';
import sharp from 'sharp';

const run = promisify(execFile);

/**
 * Gradients, shapes and grain: flat synthetic images decode far faster than photos,
 * which would flatter every measurement made with them.
 */
export async function photo(width: number, height: number, format: 'jpeg' | 'png' = 'jpeg'): Promise<Buffer> {
  const pixels = Buffer.alloc(width * height * 3);
  let seed = 0x2545f491;
  for (let y = 0; y < height; y++) {
    for (let x = 0; x < width; x++) {
      seed = (seed * 1103515245 + 12345) >>> 0;
      const grain = (seed >>> 24) - 128;
      const sky = y < height * 0.45;
      const i = (y * width + x) * 3;
      const wave = Math.sin(x / 37 + y / 53) * 30;
      pixels[i] = clamp((sky ? 90 : 120) + (x / width) * 80 + wave + grain * 0.25);
      pixels[i + 1] = clamp((sky ? 140 : 110) + (y / height) * 60 - wave + grain * 0.25);
      pixels[i + 2] = clamp((sky ? 210 : 60) - (y / height) * 40 + grain * 0.25);
    }
  }
  const image = sharp(pixels, { raw: { width, height, channels: 3 } });
  return format === 'jpeg'
    ? image.jpeg({ quality: 90 }).toBuffer()
    : image.png({ compressionLevel: 3 }).toBuffer();
}

function clamp(value: number): number {
  return Math.max(0, Math.min(255, Math.round(value)));
}

/** A PNG whose header claims width × height but that carries almost no pixel data. */
export function pngHeaderOnly(width: number, height: number): Buffer {
  const chunk = (type: string, data: Buffer) => {
    const body = Buffer.concat([Buffer.from(type, 'latin1'), data]);
    const frame = Buffer.alloc(8 + data.length + 4);
    frame.writeUInt32BE(data.length, 0);
    body.copy(frame, 4);
    frame.writeUInt32BE(crc32(body), 8 + data.length);
    return frame;
  };
  const ihdr = Buffer.alloc(13);
  ihdr.writeUInt32BE(width, 0);
  ihdr.writeUInt32BE(height, 4);
  ihdr.set([8, 2, 0, 0, 0], 8);
  return Buffer.concat([
    Buffer.from([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]),
    chunk('IHDR', ihdr),
    chunk('IDAT', deflateSync(Buffer.alloc(1024))),
    chunk('IEND', Buffer.alloc(0)),
  ]);
}

function crc32(bytes: Buffer): number {
  let crc = 0xffffffff;
  for (const byte of bytes) {
    crc ^= byte;
    for (let k = 0; k < 8; k++) crc = crc & 1 ? (crc >>> 1) ^ 0xedb88320 : crc >>> 1;
  }
  return (crc ^ 0xffffffff) >>> 0;
}

type TiffValue =
  | { type: 'byte' | 'short' | 'long'; values: number[] }
  | { type: 'ascii'; text: string }
  | { type: 'rational'; values: [number, number][] };
type Ifd = Map<number, TiffValue>;

const TIFF_TYPES = { byte: [1, 1], ascii: [2, 1], short: [3, 2], long: [4, 4], rational: [5, 8] } as const;

export interface DngOptions {
  preview: Buffer;
  previewWidth: number;
  previewHeight: number;
  orientation?: number;
  make?: string;
  model?: string;
  dateTimeOriginal?: string;
  offsetTimeOriginal?: string;
}

/**
 * A small but well-formed DNG as Adobe's converter lays them out: IFD0 holds the JPEG preview,
 * a SubIFD the (here tiny) CFA sensor data, and the Exif IFD the shooting details.
 */
export function dng(options: DngOptions): Buffer {
  const rawWidth = 64;
  const rawHeight = 48;
  const sensor = Buffer.alloc(rawWidth * rawHeight * 2, 0x40);
  const previewAt = 8;
  const sensorAt = previewAt + options.preview.length + (options.preview.length % 2);

  const ifd0: Ifd = new Map<number, TiffValue>([
    [0x00fe, { type: 'long', values: [1] }],
    [0x0100, { type: 'long', values: [options.previewWidth] }],
    [0x0101, { type: 'long', values: [options.previewHeight] }],
    [0x0102, { type: 'short', values: [8, 8, 8] }],
    [0x0103, { type: 'short', values: [7] }],
    [0x0106, { type: 'short', values: [6] }],
    [0x010f, { type: 'ascii', text: options.make ?? 'Nook' }],
    [0x0110, { type: 'ascii', text: options.model ?? 'Test Camera' }],
    [0x0111, { type: 'long', values: [previewAt] }],
    [0x0112, { type: 'short', values: [options.orientation ?? 1] }],
    [0x0115, { type: 'short', values: [3] }],
    [0x0116, { type: 'long', values: [options.previewHeight] }],
    [0x0117, { type: 'long', values: [options.preview.length] }],
    [0xc612, { type: 'byte', values: [1, 4, 0, 0] }],
    [0xc614, { type: 'ascii', text: `${options.make ?? 'Nook'} ${options.model ?? 'Test Camera'}` }],
  ]);
  const sub: Ifd = new Map<number, TiffValue>([
    [0x00fe, { type: 'long', values: [0] }],
    [0x0100, { type: 'long', values: [rawWidth] }],
    [0x0101, { type: 'long', values: [rawHeight] }],
    [0x0102, { type: 'short', values: [16] }],
    [0x0103, { type: 'short', values: [1] }],
    [0x0106, { type: 'short', values: [32803] }],
    [0x0111, { type: 'long', values: [sensorAt] }],
    [0x0115, { type: 'short', values: [1] }],
    [0x0116, { type: 'long', values: [rawHeight] }],
    [0x0117, { type: 'long', values: [sensor.length] }],
    [0x828d, { type: 'short', values: [2, 2] }],
    [0x828e, { type: 'byte', values: [0, 1, 1, 2] }],
  ]);
  const exif: Ifd = new Map<number, TiffValue>([
    [0x829a, { type: 'rational', values: [[1, 250]] }],
    [0x829d, { type: 'rational', values: [[28, 10]] }],
    [0x8827, { type: 'short', values: [200] }],
    [0x9003, { type: 'ascii', text: options.dateTimeOriginal ?? '2021:07:14 18:30:05' }],
    ...(options.offsetTimeOriginal
      ? [[0x9011, { type: 'ascii', text: options.offsetTimeOriginal } as TiffValue] as const]
      : []),
    [0x920a, { type: 'rational', values: [[35, 1]] }],
  ]);

  const ifdSize = (ifd: Ifd) => 2 + ifd.size * 12 + 4;
  const ifd0At = sensorAt + sensor.length;
  // Pointers to the other IFDs are entries of IFD0 too, so count them before laying out.
  const subAt = ifd0At + ifdSize(ifd0) + 2 * 12;
  const exifAt = subAt + ifdSize(sub);
  const dataAt = exifAt + ifdSize(exif);
  ifd0.set(0x014a, { type: 'long', values: [subAt] });
  ifd0.set(0x8769, { type: 'long', values: [exifAt] });

  const extra: Buffer[] = [];
  let extraLength = 0;
  const serialise = (ifd: Ifd): Buffer => {
    const out = Buffer.alloc(ifdSize(ifd));
    out.writeUInt16LE(ifd.size, 0);
    [...ifd.entries()]
      .sort(([a], [b]) => a - b)
      .forEach(([tag, value], index) => {
        const [typeCode, unit] = TIFF_TYPES[value.type];
        const bytes = encodeValue(value);
        const at = 2 + index * 12;
        out.writeUInt16LE(tag, at);
        out.writeUInt16LE(typeCode, at + 2);
        out.writeUInt32LE(bytes.length / unit, at + 4);
        if (bytes.length <= 4) {
          bytes.copy(out, at + 8);
        } else {
          out.writeUInt32LE(dataAt + extraLength, at + 8);
          const padded = bytes.length % 2 ? Buffer.concat([bytes, Buffer.alloc(1)]) : bytes;
          extra.push(padded);
          extraLength += padded.length;
        }
      });
    return out;
  };

  const header = Buffer.from([0x49, 0x49, 0x2a, 0x00, 0, 0, 0, 0]);
  header.writeUInt32LE(ifd0At, 4);
  const previewPadded = Buffer.concat([
    options.preview,
    Buffer.alloc(sensorAt - previewAt - options.preview.length),
  ]);
  const ifds = [serialise(ifd0), serialise(sub), serialise(exif)];
  return Buffer.concat([header, previewPadded, sensor, ...ifds, ...extra]);
}

function encodeValue(value: TiffValue): Buffer {
  switch (value.type) {
    case 'ascii':
      return Buffer.from(`${value.text}\0`, 'latin1');
    case 'byte':
      return Buffer.from(value.values);
    case 'short': {
      const out = Buffer.alloc(value.values.length * 2);
      value.values.forEach((v, i) => out.writeUInt16LE(v, i * 2));
      return out;
    }
    case 'long': {
      const out = Buffer.alloc(value.values.length * 4);
      value.values.forEach((v, i) => out.writeUInt32LE(v, i * 4));
      return out;
    }
    case 'rational': {
      const out = Buffer.alloc(value.values.length * 8);
      value.values.forEach(([n, d], i) => {
        out.writeUInt32LE(n, i * 8);
        out.writeUInt32LE(d, i * 8 + 4);
      });
      return out;
    }
  }
}

/** Encodes a still to HEVC HEIC with libheif's heif-enc, as a phone would store it. */
export async function heic(source: Buffer, target: string, quality = 60): Promise<void> {
  const png = `${target}.src.png`;
  await sharp(source).png({ compressionLevel: 1 }).toFile(png);
  try {
    await run('heif-enc', ['-q', String(quality), '-o', target, png]);
  } finally {
    await rm(png, { force: true });
  }
}

export interface VideoOptions {
  codec: 'h264' | 'hevc';
  width: number;
  height: number;
  seconds: number;
  /** Black frames at the start, like a phone video that opens in a pocket. */
  blackSeconds?: number;
  /** Clockwise display rotation written into the track's display matrix. */
  rotate?: 90 | 180 | 270;
  /** Seconds between keyframes, as phones record (about 1); the encoders' default is one every 250 frames. */
  keyframeSeconds?: number;
  metadata?: Record<string, string>;
}

export async function video(target: string, options: VideoOptions): Promise<void> {
  const size = `${options.width}x${options.height}`;
  const black = options.blackSeconds ?? 0;
  const pattern = ['-f', 'lavfi', '-i', `testsrc2=s=${size}:r=30:d=${options.seconds - black}`];
  const frames = black
    ? [
        ...['-f', 'lavfi', '-i', `color=black:s=${size}:r=30:d=${black}`, ...pattern],
        ...['-filter_complex', '[0:v][1:v]concat=n=2:v=1:a=0[v]', '-map', '[v]'],
      ]
    : pattern;
  const gop = options.keyframeSeconds ? ['-g', String(Math.round(options.keyframeSeconds * 30))] : [];
  const codec =
    options.codec === 'h264'
      ? ['-c:v', 'libx264', '-preset', 'ultrafast', '-pix_fmt', 'yuv420p', ...gop]
      : [
          '-c:v',
          'libx265',
          '-preset',
          'ultrafast',
          '-x265-params',
          'log-level=error',
          '-tag:v',
          'hvc1',
          ...gop,
        ];
  const metadata = Object.entries(options.metadata ?? {}).flatMap(([key, value]) => [
    '-metadata',
    `${key}=${value}`,
  ]);
  // Keeps com.apple.quicktime.* keys as QuickTime metadata, where phones write them.
  const container = target.endsWith('.mov') ? ['-movflags', 'use_metadata_tags'] : [];
  const quiet = ['-hide_banner', '-loglevel', 'error', '-y'];
  const encoded = options.rotate ? `${target}.unrotated${path.extname(target)}` : target;
  await run('ffmpeg', [...quiet, ...frames, ...codec, ...metadata, ...container, encoded]);
  if (options.rotate) {
    // Debian's ffmpeg 5.1 writes the rotate tag into the display matrix only when copying streams.
    const rotate = ['-metadata:s:v:0', `rotate=${options.rotate}`];
    await run('ffmpeg', [
      ...quiet,
      '-i',
      encoded,
      '-c',
      'copy',
      ...rotate,
      ...metadata,
      ...container,
      target,
    ]);
    await rm(encoded);
  }
}

export async function writeDng(target: string, options: DngOptions): Promise<void> {
  await writeFile(target, dng(options));
}
