// mediaClassOf: which pipeline a file goes down, from its MIME type and name.
import { describe, expect, it } from 'vitest';
import { mediaClassOf } from './index';

describe('mediaClassOf', () => {
  it.each([
    ['image/jpeg', 'IMG_0001.JPG', 'image'],
    ['image/png', 'screenshot.png', 'image'],
    ['image/gif', 'party.gif', 'image'],
    ['image/avif', 'photo.avif', 'image'],
    ['image/heic', 'IMG_0002.HEIC', 'heif'],
    ['application/octet-stream', 'IMG_0003.heif', 'heif'],
    ['image/tiff', 'DSC_0004.NEF', 'raw'],
    ['application/octet-stream', 'IMG_0005.CR3', 'raw'],
    ['image/x-adobe-dng', 'photo', 'raw'],
    ['', 'DSCF0006.raf', 'raw'],
    ['', 'P0007.ORF', 'raw'],
    ['', 'P0008.rw2', 'raw'],
    ['', 'DSC0009.arw', 'raw'],
    ['', 'IMG_0010.cr2', 'raw'],
    ['video/quicktime', 'IMG_0011.MOV', 'video'],
    ['video/mp4', 'clip.mp4', 'video'],
    ['application/pdf', 'invoice.pdf', 'other'],
    ['application/zip', 'photos.zip', 'other'],
  ] as const)('%s %s → %s', (mime, name, expected) => {
    expect(mediaClassOf(mime, name)).toBe(expected);
  });
});
