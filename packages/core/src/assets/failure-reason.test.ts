// Failure reasons are shown to members: they name the file, never the server's folders.
import { describe, expect, it } from 'vitest';
import { withoutServerPaths } from './asset.service';

describe('withoutServerPaths', () => {
  it('keeps the file name and drops its folders, quoted or not', () => {
    expect(withoutServerPaths("ENOENT: no such file or directory, open '/srv/My Photos/2019/a b.jpg'")).toBe(
      "ENOENT: no such file or directory, open '…/a b.jpg'",
    );
    expect(withoutServerPaths('Input file is missing: /var/lib/nook/library/bob/x.heic')).toBe(
      'Input file is missing: …/x.heic',
    );
    expect(withoutServerPaths('ffmpeg exited with code 1: /tmp/nook-x/poster.mp4: Invalid data')).toBe(
      'ffmpeg exited with code 1: …/poster.mp4: Invalid data',
    );
  });

  it('leaves messages without paths, and web addresses, alone', () => {
    expect(withoutServerPaths('VipsJpeg: premature end of JPEG image')).toBe(
      'VipsJpeg: premature end of JPEG image',
    );
    expect(withoutServerPaths('see https://example.com/a/b')).toBe('see https://example.com/a/b');
  });
});
