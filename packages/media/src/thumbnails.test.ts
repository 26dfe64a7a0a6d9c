// makeThumbnails against real files: orientation, alpha, animation, ICC, HEIC, RAW and bad input.
import { execFile } from 'node:child_process';
import { copyFile, mkdtemp, readFile, rm, stat, truncate, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import sharp from 'sharp';
import { thumbHashToApproximateAspectRatio } from 'thumbhash';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { MediaError, makeThumbnails } from './index';
import { iphoneHeic } from '../../../test/iphone-heic';
import { photo, pngHeaderOnly } from '../../../test/media-files';

const run = promisify(execFile);
const fixtures = fileURLToPath(new URL('../fixtures/', import.meta.url));
let dir: string;

beforeAll(async () => {
  dir = await mkdtemp(path.join(os.tmpdir(), 'nook-thumbs-'));
});
afterAll(async () => {
  await rm(dir, { recursive: true, force: true });
});

function targets(name: string) {
  return {
    thumbPath: path.join(dir, `${name}.thumb.webp`),
    previewPath: path.join(dir, `${name}.preview.jpg`),
  };
}

async function failure(promise: Promise<unknown>): Promise<MediaError> {
  const error = await promise.then(
    () => undefined,
    (e: unknown) => e,
  );
  expect(error).toBeInstanceOf(MediaError);
  return error as MediaError;
}

describe('makeThumbnails', () => {
  it('makes a 250 px WebP, a 1440 px JPEG and a thumbhash from a photo turned by EXIF', async () => {
    const file = path.join(dir, 'portrait.jpg');
    await sharp(await photo(3000, 2000))
      .withMetadata({ orientation: 6 })
      .jpeg()
      .toFile(file);
    const out = targets('portrait');
    const result = await makeThumbnails(file, out);

    expect(result).toMatchObject({ width: 2000, height: 3000 });
    const thumb = await sharp(out.thumbPath).metadata();
    const preview = await sharp(out.previewPath).metadata();
    expect(thumb).toMatchObject({ format: 'webp', width: 167, height: 250 });
    expect(preview).toMatchObject({ format: 'jpeg', width: 960, height: 1440 });
    expect(preview.orientation ?? 1).toBe(1);
    const hash = Buffer.from(result.thumbhash, 'base64');
    expect(thumbHashToApproximateAspectRatio(hash)).toBeCloseTo(2 / 3, 1);
    expect((await readFile(out.thumbPath)).length).toBeLessThan(30_000);
  });

  it('keeps alpha in the thumbnail and flattens the preview on white', async () => {
    const file = path.join(dir, 'logo.png');
    await sharp({
      create: { width: 400, height: 400, channels: 4, background: { r: 200, g: 0, b: 0, alpha: 0 } },
    })
      .composite([
        {
          input: Buffer.from(
            '<svg width="200" height="200"><rect width="200" height="200" fill="#c00"/></svg>',
          ),
        },
      ])
      .png()
      .toFile(file);
    const out = targets('logo');
    await makeThumbnails(file, out);

    const thumb = await sharp(out.thumbPath).raw().toBuffer({ resolveWithObject: true });
    expect(thumb.info.channels).toBe(4);
    expect(thumb.data[(thumb.info.width * (thumb.info.height - 1) + thumb.info.width - 1) * 4 + 3]).toBe(0);
    const corner = await sharp(out.previewPath)
      .extract({ left: 395, top: 395, width: 1, height: 1 })
      .raw()
      .toBuffer();
    expect([...corner]).toEqual([255, 255, 255]);
  });

  it('uses the first frame of an animated GIF', async () => {
    const file = path.join(dir, 'anim.gif');
    const frame = (background: string) =>
      sharp({ create: { width: 64, height: 64, channels: 3, background } })
        .png()
        .toBuffer();
    await sharp([await frame('#ff0000'), await frame('#0000ff')], { join: { animated: true } })
      .gif({ loop: 0, delay: [100, 100] })
      .toFile(file);
    expect((await sharp(file, { animated: true }).metadata()).pages).toBe(2);
    const out = targets('anim');
    const result = await makeThumbnails(file, out);

    expect(result).toMatchObject({ width: 64, height: 64 });
    const { data } = await sharp(out.thumbPath).raw().toBuffer({ resolveWithObject: true });
    expect(data[0]).toBeGreaterThan(200);
    expect(data[2]).toBeLessThan(50);
  });

  it('converts an embedded Display P3 profile to sRGB', async () => {
    const file = path.join(dir, 'p3.jpg');
    // sharp stores this sRGB green as its Display P3 equivalent, tagged with the P3 profile.
    await sharp({ create: { width: 300, height: 200, channels: 3, background: { r: 60, g: 170, b: 90 } } })
      .withIccProfile('p3')
      .jpeg({ quality: 100 })
      .toFile(file);
    const pixel = (image: sharp.Sharp) =>
      image.extract({ left: 150, top: 100, width: 1, height: 1 }).raw().toBuffer();
    const stored = [...(await pixel(sharp(file, { ignoreIcc: true })))];
    expect(stored[0]).toBeGreaterThan(85);
    const out = targets('p3');
    await makeThumbnails(file, out);

    const shown = [...(await pixel(sharp(out.previewPath)))];
    [60, 170, 90].forEach((value, channel) =>
      expect(Math.abs(shown[channel]! - value)).toBeLessThanOrEqual(3),
    );
  });

  it('decodes a single-picture HEVC HEIC as libheif writes it', async () => {
    const out = targets('heic');
    const result = await makeThumbnails(path.join(fixtures, 'iphone.heic'), out);

    expect(result).toMatchObject({ width: 640, height: 480 });
    expect(await sharp(out.previewPath).metadata()).toMatchObject({ width: 640, height: 480 });
    expect(await sharp(out.thumbPath).metadata()).toMatchObject({ width: 250, height: 188 });
  });

  it('reads an HEIC by its content when it is named .jpg', async () => {
    const file = path.join(dir, 'misnamed-heic.jpg');
    await copyFile(path.join(fixtures, 'iphone.heic'), file);
    expect(await makeThumbnails(file, targets('misnamed-heic'))).toMatchObject({ width: 640, height: 480 });
  });

  it('uses the embedded preview of a RAW file, turned by the RAW orientation', async () => {
    const out = targets('dng');
    const result = await makeThumbnails(path.join(fixtures, 'camera.dng'), out);

    expect(result).toMatchObject({ width: 400, height: 600 });
    expect(await sharp(out.previewPath).metadata()).toMatchObject({ width: 400, height: 600 });
    expect(await sharp(out.thumbPath).metadata()).toMatchObject({ width: 167, height: 250 });
  });

  it('gives a correct result for a PNG named .jpg', async () => {
    const file = path.join(dir, 'screenshot.jpg');
    await writeFile(file, await photo(800, 600, 'png'));
    expect(await makeThumbnails(file, targets('screenshot'))).toMatchObject({ width: 800, height: 600 });
  });
});

/** Mean absolute difference per channel of two pictures brought to the same small size. */
async function difference(a: string, b: string): Promise<number> {
  const small = (file: string) =>
    sharp(file).resize(90, 140, { fit: 'fill' }).removeAlpha().toColourspace('srgb').raw().toBuffer();
  const [left, right] = await Promise.all([small(a), small(b)]);
  return left.reduce((sum, value, i) => sum + Math.abs(value - right[i]!), 0) / left.length;
}

describe('makeThumbnails on HEIC as iPhones write it', () => {
  it('lays out the tiles, turns, mirrors and converts Display P3 as libheif does', async () => {
    const file = path.join(dir, 'grid.heic');
    const tagged = await sharp({ create: { width: 8, height: 8, channels: 3, background: '#000' } })
      .withIccProfile('p3')
      .png()
      .toBuffer();
    const { icc } = await sharp(tagged).metadata();
    // 1700×1100 is not a multiple of the 512 px tiles: the grid crops its right and bottom edges.
    await iphoneHeic(await photo(1700, 1100), file, { rotate: 1, mirror: 1, icc });
    const out = targets('grid');
    const result = await makeThumbnails(file, out);

    expect(result).toMatchObject({ width: 1100, height: 1700 });
    expect(await sharp(out.previewPath).metadata()).toMatchObject({ width: 932, height: 1440 });
    expect(await sharp(out.thumbPath).metadata()).toMatchObject({ width: 162, height: 250 });
    const reference = path.join(dir, 'grid-libheif.png');
    await run('heif-convert', ['--quiet', file, reference]);
    expect((await sharp(reference).metadata()).icc).toBeDefined();
    // JPEG at quality 82 alone accounts for about 1.5.
    expect(await difference(out.previewPath, reference)).toBeLessThan(2.5);
    // The same pixels read as sRGB, the profile ignored, are measurably off: the check can see it.
    const unconverted = path.join(dir, 'grid-unconverted.png');
    await sharp(reference, { ignoreIcc: true }).png().toFile(unconverted);
    expect(await difference(out.previewPath, unconverted)).toBeGreaterThan(6);
  });

  it('leaves a 10-bit HEIC to libheif', async () => {
    const source = path.join(dir, 'deep.png');
    await sharp(await photo(900, 600))
      .toColourspace('rgb16')
      .png()
      .toFile(source);
    const file = path.join(dir, 'deep.heic');
    await run('heif-enc', ['-b', '10', '-q', '60', '-o', file, source]);
    const out = targets('deep');

    expect(await makeThumbnails(file, out)).toMatchObject({ width: 900, height: 600 });
    expect(await sharp(out.previewPath).metadata()).toMatchObject({ width: 900, height: 600 });
    expect(await difference(out.previewPath, source)).toBeLessThan(3);
  });

  it('fails a grid HEIC cut short, or with a broken tile, permanently', async () => {
    const file = path.join(dir, 'cut.heic');
    await iphoneHeic(await photo(1024, 1024), file, { thumbnail: 0 });
    const whole = await readFile(file);
    await writeFile(file, whole.subarray(0, whole.length - 10_000));
    expect(await failure(makeThumbnails(file, targets('cut')))).toMatchObject({
      permanent: true,
      message: 'HEIF image is corrupt or unsupported (an image item lies past the end of the file)',
    });

    // The first tile's first NAL unit claims to be longer than the tile.
    const broken = Buffer.from(whole);
    const mdat = broken.indexOf('mdat', 0, 'latin1');
    broken.writeUInt32BE(0x7fffffff, mdat + 4);
    await writeFile(file, broken);
    expect(await failure(makeThumbnails(file, targets('cut')))).toMatchObject({
      permanent: true,
      message: 'HEIF image is corrupt or unsupported (a tile is cut short)',
    });
  });
});

describe('makeThumbnails on bad input', () => {
  it('refuses a PNG whose header claims 60000×60000 within a second', async () => {
    const file = path.join(dir, 'bomb.png');
    await writeFile(file, pngHeaderOnly(60000, 60000));
    const started = performance.now();
    const error = await failure(makeThumbnails(file, targets('bomb')));

    expect(performance.now() - started).toBeLessThan(1000);
    expect(error.permanent).toBe(true);
    expect(error.message).toBe('image is 60000×60000 pixels, more than the 268 megapixel limit');
    await expect(stat(targets('bomb').thumbPath)).rejects.toThrow();
  });

  it('fails a truncated JPEG permanently with a readable reason', async () => {
    const file = path.join(dir, 'truncated.jpg');
    await writeFile(file, await photo(1200, 900));
    await truncate(file, 20_000);
    const error = await failure(makeThumbnails(file, targets('truncated')));

    expect(error.permanent).toBe(true);
    expect(error.message).toMatch(/^image is truncated or corrupt \(JPEG: premature end of/);
  });

  it('fails a zero-byte file permanently as "empty file"', async () => {
    const file = path.join(dir, 'empty.jpg');
    await writeFile(file, '');
    const error = await failure(makeThumbnails(file, targets('empty')));
    expect(error).toMatchObject({ permanent: true, message: 'empty file' });
  });

  it('fails a file that is not an image permanently', async () => {
    const file = path.join(dir, 'notes.png');
    await writeFile(file, 'shopping list: milk, eggs\n'.repeat(20));
    const error = await failure(makeThumbnails(file, targets('notes')));
    expect(error).toMatchObject({ permanent: true, message: 'unsupported or unrecognised image format' });
  });

  it('fails a file deleted before the call as transient', async () => {
    const file = path.join(dir, 'gone.jpg');
    await writeFile(file, await photo(100, 100));
    await rm(file);
    const error = await failure(makeThumbnails(file, targets('gone')));
    expect(error).toMatchObject({ permanent: false, message: 'file not found' });
  });

  it('fails a corrupt HEIC permanently', async () => {
    const file = path.join(dir, 'broken.heic');
    await writeFile(file, (await readFile(path.join(fixtures, 'iphone.heic'))).subarray(0, 4000));
    const error = await failure(makeThumbnails(file, targets('broken-heic')));
    expect(error.permanent).toBe(true);
    expect(error.message).toMatch(/^(HEIF image is corrupt|image is truncated or corrupt)/);
  });

  it('fails a RAW file without a preview permanently', async () => {
    const file = path.join(dir, 'garbage.nef');
    await writeFile(file, 'not a camera file');
    const error = await failure(makeThumbnails(file, targets('garbage')));
    expect(error).toMatchObject({ permanent: true, message: 'RAW file has no embedded preview image' });
  });
});

describe('decoders', () => {
  it('checks that the external tools are installed', async () => {
    await expect(run('heif-convert', ['--help'])).resolves.toBeDefined();
    await expect(run('exiftool', ['-ver'])).resolves.toBeDefined();
  });
});
