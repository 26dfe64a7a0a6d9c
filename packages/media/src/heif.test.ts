// readHeifStructure on HEIC files laid out as iPhones and libheif write them.
import { execFile } from 'node:child_process';
import { mkdtemp, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import sharp from 'sharp';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { readExtents, readHeifStructure } from './heif';
import { iphoneHeic } from '../../../test/iphone-heic';
import { photo } from '../../../test/media-files';

const run = promisify(execFile);
const fixtures = fileURLToPath(new URL('../fixtures/', import.meta.url));
let dir: string;

beforeAll(async () => {
  dir = await mkdtemp(path.join(os.tmpdir(), 'nook-heif-'));
});
afterAll(async () => {
  await rm(dir, { recursive: true, force: true });
});

describe('readHeifStructure', () => {
  it('finds the grid of tiles, its transforms in order, its colour and its EXIF, not the thumbnail', async () => {
    const file = path.join(dir, 'iphone.heic');
    const { exif } = await sharp({ create: { width: 8, height: 8, channels: 3, background: '#000' } })
      .withExif({ IFD0: { Make: 'Apple' } })
      .jpeg()
      .toBuffer()
      .then((jpeg) => sharp(jpeg).metadata());
    await iphoneHeic(await photo(1100, 600), file, { rotate: 3, mirror: 0, exif, thumbnail: 320 });
    const structure = await readHeifStructure(file);

    expect(structure.unsupported).toBeUndefined();
    expect(structure.picture).toMatchObject({
      width: 1100,
      height: 600,
      columns: 3,
      rows: 2,
      transforms: [{ rotate: 3 }, { mirror: 0 }],
      colour: { nclx: { primaries: 1, transfer: 13, matrix: 6, fullRange: true } },
    });
    expect(structure.picture!.tiles).toHaveLength(6);
    expect(structure.picture!.tiles.every((tile) => tile.width === 512 && tile.height === 512)).toBe(true);
    // Apple's EXIF item: the TIFF header's offset (6), then "Exif\0\0", then the TIFF structure.
    const item = await readExtents(file, structure.exif!);
    expect(item.readUInt32BE(0)).toBe(6);
    expect(item.subarray(4, 10).toString('latin1')).toBe('Exif\0\0');
  });

  it('reads the single picture libheif writes', async () => {
    const structure = await readHeifStructure(path.join(fixtures, 'iphone.heic'));
    expect(structure.picture).toMatchObject({ width: 640, height: 480, columns: 1, rows: 1, transforms: [] });
    expect(structure.exif).toHaveLength(1);
  });

  it('names what it leaves to libheif', async () => {
    const source = path.join(dir, 'deep.png');
    await sharp(await photo(256, 128))
      .toColourspace('rgb16')
      .png()
      .toFile(source);
    const file = path.join(dir, 'deep.heic');
    await run('heif-enc', ['-b', '10', '-o', file, source]);
    expect(await readHeifStructure(file)).toMatchObject({
      picture: undefined,
      unsupported: '10-bit 4:2:0 HEVC',
    });
  });

  it('leaves colour matrices other than BT.601, BT.709 and BT.2020 to libheif', async () => {
    const file = path.join(dir, 'identity.heic');
    await iphoneHeic(await photo(256, 128), file, { matrix: 0, thumbnail: 0 });
    expect(await readHeifStructure(file)).toMatchObject({
      picture: undefined,
      unsupported: 'colour matrix 0',
    });
  });

  it('refuses a file that is not HEIF', async () => {
    const file = path.join(dir, 'not.heic');
    await sharp(await photo(64, 64)).toFile(file.replace('.heic', '.jpg'));
    const error = await readHeifStructure(file.replace('.heic', '.jpg')).catch((e: unknown) => e);
    expect(error).toMatchObject({ permanent: true });
    expect((error as Error).message).toMatch(
      /^HEIF image is corrupt or unsupported \(box .* overruns its parent\)$/,
    );
  });
});
