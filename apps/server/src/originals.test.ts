// Originals over real HTTP as outside clients meet them: curl's -OJ names, weak validators, several
// ranges at once, the policy a browser shows them under; and tus answers as HTTP, not as CORS.
import { execFile } from 'node:child_process';
import { mkdtemp, readFile, readdir, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { setUpAdmin, startTestNook, type TestClient, type TestNook } from '../../../test/harness';
import { makeJpeg } from '../../../test/media';
import { asciiFileName } from './files';

const run = promisify(execFile);

interface Uploaded {
  id: string;
}

/** The parts of a multipart/byteranges body, as a client splits it. */
function byteranges(body: Buffer, contentType: string): { range: string; type: string; data: Buffer }[] {
  const boundary = /boundary=([^;]+)/.exec(contentType)![1]!;
  const text = body.toString('latin1');
  const parts = text.split(`--${boundary}`);
  expect(parts.pop()).toBe('--\r\n');
  return parts
    .filter((part) => part.trim() !== '')
    .map((part) => {
      const [head, data] = part.replace(/^\r\n/, '').split('\r\n\r\n') as [string, string];
      const headers = Object.fromEntries(
        head.split('\r\n').map((line) => line.split(': ').map((s) => s.toLowerCase()) as [string, string]),
      );
      return {
        range: headers['content-range']!,
        type: headers['content-type']!,
        data: Buffer.from(data.replace(/\r\n$/, ''), 'latin1'),
      };
    });
}

describe('originals as clients meet them', () => {
  let nook: TestNook;
  let admin: TestClient;
  let token: string;
  let data: Buffer;
  let url: string;
  const dirs: string[] = [];

  const curl = async (...args: string[]) =>
    (await run('curl', ['--silent', '--show-error', '-H', `Authorization: Bearer ${token}`, ...args])).stdout;

  beforeAll(async () => {
    nook = await startTestNook({ workers: false });
    admin = await setUpAdmin(nook.url);
    ({ token } = await admin.mutate<{ token: string }>('auth.createToken', {
      name: 'curl',
      scopes: ['read', 'upload'],
    }));
    data = Buffer.concat([await makeJpeg({ seed: '5a5a5a' }), Buffer.alloc(4000, 7)]);
    const [item] = (await (
      await admin.upload([{ name: 'Grüße aus Köln – Straße.jpg', data, type: 'image/jpeg' }])
    ).json()) as Uploaded[];
    url = `/api/assets/${item!.id}/original`;
  });

  afterAll(async () => {
    await nook?.close();
    for (const dir of dirs) await rm(dir, { recursive: true, force: true });
  });

  it('transliterates the ASCII fallback name, which curl -OJ saves under', async () => {
    const dir = await mkdtemp(path.join(tmpdir(), 'nook-curl-'));
    dirs.push(dir);
    await run('curl', ['-sS', '-O', '-J', '-H', `Authorization: Bearer ${token}`, `${nook.url}${url}`], {
      cwd: dir,
    });
    expect(await readdir(dir)).toEqual(['Grusse aus Koln - Strasse.jpg']);
    expect((await readFile(path.join(dir, 'Grusse aus Koln - Strasse.jpg'))).equals(data)).toBe(true);

    const response = await admin.fetch(url);
    expect(response.headers.get('content-disposition')).toBe(
      `inline; filename="Grusse aus Koln - Strasse.jpg"; ` +
        `filename*=UTF-8''Gr%C3%BC%C3%9Fe%20aus%20K%C3%B6ln%20%E2%80%93%20Stra%C3%9Fe.jpg`,
    );
  });

  it('makes every name a file name in ASCII', () => {
    expect(asciiFileName('café crème.jpg')).toBe('cafe creme.jpg');
    expect(asciiFileName('Ærøskøbing Æbleskiver.heic')).toBe('Aeroskobing Aebleskiver.heic');
    expect(asciiFileName('東京タワー.mp4')).toBe('DongJingtawa.mp4');
    expect(asciiFileName('a/b\\c:d*e?f"g<h>i|j.png')).toBe('a_b_c_d_e_f_g_h_i_j.png');
    expect(asciiFileName('\u0007')).toBe('download');
  });

  it('answers a weak If-None-Match with 304 (weak comparison)', async () => {
    const etag = (await admin.fetch(url)).headers.get('etag')!;
    expect(etag).toMatch(/^"[0-9a-f]{64}"$/);
    for (const tag of [etag, `W/${etag}`, `"other", W/${etag}`, '*']) {
      const status = await curl(
        '-o',
        '/dev/null',
        '-w',
        '%{http_code}',
        '-H',
        `If-None-Match: ${tag}`,
        `${nook.url}${url}`,
      );
      expect(status, tag).toBe('304');
    }
    const other = await curl(
      '-o',
      '/dev/null',
      '-w',
      '%{http_code}',
      '-H',
      'If-None-Match: W/"other"',
      `${nook.url}${url}`,
    );
    expect(other).toBe('200');
  });

  it('sends a weak If-Range the whole file: If-Range compares strongly', async () => {
    const etag = (await admin.fetch(url)).headers.get('etag')!;
    const strong = await admin.fetch(url, { headers: { range: 'bytes=0-9', 'if-range': etag } });
    expect(strong.status).toBe(206);
    const weak = await admin.fetch(url, { headers: { range: 'bytes=0-9', 'if-range': `W/${etag}` } });
    expect(weak.status).toBe(200);
  });

  it('answers several ranges with 206 multipart/byteranges, in the order asked', async () => {
    const response = await admin.fetch(url, { headers: { range: 'bytes=100-199, 0-9, -20' } });
    expect(response.status).toBe(206);
    const type = response.headers.get('content-type')!;
    expect(type).toMatch(/^multipart\/byteranges; boundary=\S+$/);
    const body = Buffer.from(await response.arrayBuffer());
    expect(Number(response.headers.get('content-length'))).toBe(body.length);
    expect(byteranges(body, type)).toEqual([
      { range: `bytes 100-199/${data.length}`, type: 'image/jpeg', data: data.subarray(100, 200) },
      { range: `bytes 0-9/${data.length}`, type: 'image/jpeg', data: data.subarray(0, 10) },
      {
        range: `bytes ${data.length - 20}-${data.length - 1}/${data.length}`,
        type: 'image/jpeg',
        data: data.subarray(data.length - 20),
      },
    ]);

    // Overlapping ranges are merged into one, which needs no multipart.
    const merged = await admin.fetch(url, { headers: { range: 'bytes=0-99,50-149' } });
    expect(merged.status).toBe(206);
    expect(merged.headers.get('content-range')).toBe(`bytes 0-149/${data.length}`);
    expect(Buffer.from(await merged.arrayBuffer()).equals(data.subarray(0, 150))).toBe(true);

    // A flood of ranges is a scan: the whole file, as RFC 9110 allows.
    const many = Array.from({ length: 100 }, (_, i) => `${i * 20}-${i * 20 + 9}`).join(',');
    const flood = await admin.fetch(url, { headers: { range: `bytes=${many}` } });
    expect(flood.status).toBe(200);
    expect(Buffer.from(await flood.arrayBuffer()).equals(data)).toBe(true);
  });

  it('streams a multi-range answer that curl takes apart itself', async () => {
    const out = await curl('-i', '-r', '0-3,10-13', `${nook.url}${url}`);
    expect(out).toMatch(/^HTTP\/1\.1 206 Partial Content\r\n/);
    expect(out).toContain(`Content-Range: bytes 0-3/${data.length}`);
    expect(out).toContain(`Content-Range: bytes 10-13/${data.length}`);
  });

  it('lets the browser show an image or a video by itself, but nothing run', async () => {
    const policy = (await admin.fetch(url)).headers.get('content-security-policy')!;
    const directives = new Map(
      policy.split(';').map((directive) => {
        const [name, ...values] = directive.trim().split(/\s+/);
        return [name!, values] as const;
      }),
    );
    expect(directives.get('default-src')).toEqual(["'none'"]);
    expect(directives.get('media-src')).toEqual(["'self'"]);
    expect(directives.get('style-src')).toEqual(["'unsafe-inline'"]);
    expect(directives.has('script-src')).toBe(false);
    expect(directives.get('sandbox')).not.toContain('allow-scripts');
  });

  describe('tus answers', () => {
    it('carry a reason phrase and no CORS headers, asked from anywhere', async () => {
      const head = await curl(
        '-i',
        '-X',
        'POST',
        '-H',
        'Tus-Resumable: 1.0.0',
        '-H',
        'Upload-Length: 5',
        '-H',
        'Origin: https://elsewhere.example',
        `${nook.url}/api/uploads`,
      );
      expect(head).toMatch(/^HTTP\/1\.1 201 Created\r\n/);
      expect(head).not.toMatch(/^access-control-/im);
      const location = /^location: (\S+)/im.exec(head)![1]!;

      const options = await curl(
        '-i',
        '-X',
        'OPTIONS',
        '-H',
        'Origin: https://elsewhere.example',
        `${nook.url}/api/uploads`,
      );
      expect(options).toMatch(/^HTTP\/1\.1 204 No Content\r\n/);
      expect(options).toMatch(/^tus-version: 1\.0\.0\r$/im);
      expect(options).not.toMatch(/^access-control-/im);

      const patch = await curl(
        '-i',
        '-X',
        'PATCH',
        '-H',
        'Tus-Resumable: 1.0.0',
        '-H',
        'Upload-Offset: 0',
        '-H',
        'Content-Type: application/offset+octet-stream',
        '-H',
        'Upload-Checksum: sha256 AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA=',
        '--data-binary',
        'hello',
        `${nook.url}${location}`,
      );
      expect(patch).toMatch(/^HTTP\/1\.1 460 Checksum Mismatch\r\n/);
      expect(patch).not.toMatch(/^access-control-/im);

      const gone = location.replace(/\.[0-9a-f]{32}$/, `.${'0'.repeat(32)}`);
      const missing = await curl('-i', '-I', '-H', 'Tus-Resumable: 1.0.0', `${nook.url}${gone}`);
      expect(missing).toMatch(/^HTTP\/1\.1 404 Not Found\r\n/);
      expect(missing).not.toMatch(/^access-control-/im);
    });
  });
});
