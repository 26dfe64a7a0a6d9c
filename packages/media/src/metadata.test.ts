// readImageMetadata against real files of every supported format, tagged with exiftool.
import { execFile } from 'node:child_process';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import sharp from 'sharp';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { MediaError, readImageMetadata } from './index';
import { pngHeaderOnly } from '../../../test/media-files';

const run = promisify(execFile);
const fixtures = fileURLToPath(new URL('../fixtures/', import.meta.url));
let dir: string;

beforeAll(async () => {
  dir = await mkdtemp(path.join(os.tmpdir(), 'nook-meta-'));
});
afterAll(async () => {
  await rm(dir, { recursive: true, force: true });
});

const CAMERA_TAGS = [
  '-Make=Apple',
  '-Model=iPhone 14',
  '-LensModel=iPhone 14 back camera 5.7mm f/1.5',
  '-ISO=64',
  '-ExposureTime=1/120',
  '-FNumber=1.5',
  '-FocalLength=5.7',
  '-DateTimeOriginal=2023:06:01 12:34:56',
  '-OffsetTimeOriginal=+02:00',
  '-CreateDate=2023:06:01 12:34:57',
  '-GPSLatitude=48.8584',
  '-GPSLatitudeRef=N',
  '-GPSLongitude=2.2945',
  '-GPSLongitudeRef=W',
];

async function tagged(name: string, format: 'jpeg' | 'png' | 'webp' | 'tiff' | 'avif', tags: string[]) {
  const file = path.join(dir, name);
  await sharp({ create: { width: 640, height: 480, channels: 3, background: '#3a7' } })
    .toFormat(format)
    .toFile(file);
  if (tags.length) await run('exiftool', ['-q', '-overwrite_original', ...tags, file]);
  return file;
}

describe('readImageMetadata', () => {
  it.each([
    ['photo.jpg', 'jpeg'],
    ['photo.png', 'png'],
    ['photo.webp', 'webp'],
    ['photo.tif', 'tiff'],
  ] as const)('reads size after orientation and every camera detail from %s', async (name, format) => {
    const file = await tagged(name, format, [...CAMERA_TAGS, '-Orientation#=6']);
    expect(await readImageMetadata(file)).toEqual({
      width: 480,
      height: 640,
      takenAt: new Date('2023-06-01T10:34:56Z'),
      takenAtSource: 'exif-original',
      timeZoneOffset: '+02:00',
      make: 'Apple',
      model: 'iPhone 14',
      lens: 'iPhone 14 back camera 5.7mm f/1.5',
      iso: 64,
      exposureTime: expect.closeTo(1 / 120, 6),
      fNumber: 1.5,
      focalLength: 5.7,
      latitude: expect.closeTo(48.8584, 4),
      longitude: expect.closeTo(-2.2945, 4),
    });
  });

  it('ignores EXIF orientation in AVIF, whose rotation lives in the container', async () => {
    const file = await tagged('photo.avif', 'avif', [...CAMERA_TAGS, '-Orientation#=6']);
    expect(await readImageMetadata(file)).toMatchObject({
      width: 640,
      height: 480,
      takenAt: new Date('2023-06-01T10:34:56Z'),
      make: 'Apple',
      latitude: expect.closeTo(48.8584, 4),
    });
  });

  it('reads an iPhone HEIC', async () => {
    expect(await readImageMetadata(path.join(fixtures, 'iphone.heic'))).toEqual({
      width: 640,
      height: 480,
      takenAt: new Date('2023-06-01T10:34:56Z'),
      takenAtSource: 'exif-original',
      timeZoneOffset: '+02:00',
      make: 'Apple',
      model: 'iPhone 14 Pro',
      lens: 'iPhone 14 Pro back triple camera 6.86mm f/1.78',
      iso: 80,
      exposureTime: expect.closeTo(1 / 120, 6),
      fNumber: 1.78,
      focalLength: 6.86,
      latitude: expect.closeTo(48.8584, 4),
      longitude: expect.closeTo(2.2945, 4),
    });
  });

  it('reads a HEIC written by libheif, whose EXIF exifr refuses, through exiftool', async () => {
    // heif-enc copies the JPEG's EXIF into an item whose TIFF header offset is 0 (Apple writes 6).
    const jpeg = await tagged('for-libheif.jpg', 'jpeg', CAMERA_TAGS);
    const file = path.join(dir, 'libheif.heic');
    await run('heif-enc', ['-q', '40', '-o', file, jpeg]);
    expect(await readImageMetadata(file)).toEqual({
      width: 640,
      height: 480,
      takenAt: new Date('2023-06-01T10:34:56Z'),
      takenAtSource: 'exif-original',
      timeZoneOffset: '+02:00',
      make: 'Apple',
      model: 'iPhone 14',
      lens: 'iPhone 14 back camera 5.7mm f/1.5',
      iso: 64,
      exposureTime: expect.closeTo(1 / 120, 6),
      fNumber: 1.5,
      focalLength: 5.7,
      latitude: expect.closeTo(48.8584, 4),
      longitude: expect.closeTo(-2.2945, 4),
    });
  });

  it('reads a DNG through exiftool, with the sensor size turned by its orientation', async () => {
    expect(await readImageMetadata(path.join(fixtures, 'camera.dng'))).toEqual({
      width: 48,
      height: 64,
      takenAt: new Date('2021-07-14T23:30:05Z'),
      takenAtSource: 'exif-original',
      timeZoneOffset: '-05:00',
      make: 'Nook',
      model: 'Test Camera',
      lens: '50mm F1.8',
      iso: 200,
      exposureTime: 0.004,
      fNumber: 2.8,
      focalLength: 35,
      latitude: null,
      longitude: null,
    });
  });

  it('keeps the camera wall-clock time as UTC when no offset was recorded', async () => {
    const file = await tagged('no-offset.jpg', 'jpeg', ['-DateTimeOriginal=2019:12:31 23:59:58']);
    expect(await readImageMetadata(file)).toMatchObject({
      takenAt: new Date('2019-12-31T23:59:58Z'),
      takenAtSource: 'exif-original',
      timeZoneOffset: null,
    });
  });

  it('falls back to CreateDate with OffsetTimeDigitized', async () => {
    const file = await tagged('digitized.jpg', 'jpeg', [
      '-CreateDate=2020:02:29 08:00:00',
      '-OffsetTimeDigitized=-03:30',
    ]);
    expect(await readImageMetadata(file)).toMatchObject({
      takenAt: new Date('2020-02-29T11:30:00Z'),
      takenAtSource: 'exif-digitized',
      timeZoneOffset: '-03:30',
    });
  });

  it('gives nulls for a screenshot without EXIF', async () => {
    const plain = await tagged('plain.png', 'png', []);
    expect(await readImageMetadata(plain)).toEqual({
      width: 640,
      height: 480,
      takenAt: null,
      takenAtSource: null,
      timeZoneOffset: null,
      make: null,
      model: null,
      lens: null,
      iso: null,
      exposureTime: null,
      fNumber: null,
      focalLength: null,
      latitude: null,
      longitude: null,
    });
  });

  it('skips a zeroed camera clock and falls back to the time the camera wrote the file', async () => {
    const file = path.join(dir, 'zeroed.jpg');
    // exiftool refuses to write a zero date, but cameras with an unset clock do.
    await sharp({ create: { width: 64, height: 48, channels: 3, background: '#3a7' } })
      .withExif({
        IFD0: { DateTime: '2018:01:02 03:04:05' },
        IFD2: { DateTimeOriginal: '0000:00:00 00:00:00' },
      })
      .jpeg()
      .toFile(file);
    expect(await readImageMetadata(file)).toMatchObject({
      takenAt: new Date('2018-01-02T03:04:05Z'),
      takenAtSource: 'exif-create',
      timeZoneOffset: null,
    });
  });

  it('refuses the 60000×60000 PNG header and a zero-byte file permanently', async () => {
    const bomb = path.join(dir, 'bomb.png');
    await writeFile(bomb, pngHeaderOnly(60000, 60000));
    await expect(readImageMetadata(bomb)).rejects.toMatchObject({
      permanent: true,
      message: 'image is 60000×60000 pixels, more than the 268 megapixel limit',
    });
    const empty = path.join(dir, 'empty.heic');
    await writeFile(empty, '');
    await expect(readImageMetadata(empty)).rejects.toMatchObject({ permanent: true, message: 'empty file' });
  });

  it('reports a missing file as transient', async () => {
    const error = await readImageMetadata(path.join(dir, 'deleted.jpg')).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(MediaError);
    expect(error).toMatchObject({ permanent: false, message: 'file not found' });
  });
});
