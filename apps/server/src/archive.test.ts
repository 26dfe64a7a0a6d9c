import { describe, expect, it } from 'vitest';
import { uniqueNames } from './archive';

describe('names in a zip', () => {
  it('keeps each name once, ignoring case, numbering the copies before the extension', () => {
    expect(
      uniqueNames(['IMG_0001.JPG', 'img_0001.jpg', 'IMG_0001.JPG', 'notes', 'notes', 'not included.txt']),
    ).toEqual([
      'IMG_0001.JPG',
      'img_0001 (2).jpg',
      'IMG_0001 (3).JPG',
      'notes',
      'notes (2)',
      'not included (2).txt',
    ]);
  });

  it('makes names of paths, so nothing unpacks outside the folder', () => {
    expect(uniqueNames(['../evil.jpg', 'C:\\x.jpg', 'a/b.jpg', '..'])).toEqual([
      '.._evil.jpg',
      'C__x.jpg',
      'a_b.jpg',
      '_',
    ]);
  });
});
