// Behind a real nginx with NOOK_ACCEL_REDIRECT: Nook checks who asks and for what, nginx sends the
// bytes (sendfile) with the headers Nook chose, using deploy/nginx/nook-originals.conf as shipped.
import { spawn, execFile, type ChildProcess } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdir, readFile, writeFile } from 'node:fs/promises';
import { createServer } from 'node:net';
import path from 'node:path';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  makeTempDir,
  setUpAdmin,
  startTestNook,
  type TestClient,
  type TestNook,
} from '../../../test/harness';
import { makeJpeg } from '../../../test/media';
import { accelRedirectPath } from './files';

const run = promisify(execFile);
const NGINX = '/usr/sbin/nginx';
const snippet = path.resolve(import.meta.dirname, '../../../deploy/nginx/nook-originals.conf');

function freePort(): Promise<number> {
  return new Promise((resolve) => {
    const probe = createServer().listen(0, '127.0.0.1', () => {
      const { port } = probe.address() as { port: number };
      probe.close(() => resolve(port));
    });
  });
}

/** nginx in front of `upstream` on a loopback port, as docs/reverse-proxy.md sets it up. */
async function startNginx(upstream: string): Promise<{ url: string; stop(): Promise<void> }> {
  const prefix = await makeTempDir('nook-nginx-');
  await mkdir(path.join(prefix, 'logs'));
  const port = await freePort();
  const temp = (name: string) => path.join(prefix, `${name}_temp`);
  const conf = `
daemon off;
worker_processes 1;
${process.getuid?.() === 0 ? 'user root;' : ''}
pid ${path.join(prefix, 'nginx.pid')};
error_log ${path.join(prefix, 'logs/error.log')} warn;
events { worker_connections 64; }
http {
  access_log off;
  client_body_temp_path ${temp('client_body')};
  proxy_temp_path ${temp('proxy')};
  fastcgi_temp_path ${temp('fastcgi')};
  uwsgi_temp_path ${temp('uwsgi')};
  scgi_temp_path ${temp('scgi')};
  server {
    listen 127.0.0.1:${port};
    client_max_body_size 0;
    proxy_request_buffering off;
    proxy_buffering off;
    location / {
      proxy_pass ${upstream};
      proxy_http_version 1.1;
      proxy_set_header Host $host;
      proxy_set_header X-Forwarded-For $remote_addr;
    }
    include ${snippet};
  }
}`;
  const confPath = path.join(prefix, 'nginx.conf');
  await writeFile(confPath, conf);
  const child: ChildProcess = spawn(
    NGINX,
    ['-c', confPath, '-p', prefix, '-e', path.join(prefix, 'logs/error.log')],
    {
      stdio: 'ignore',
    },
  );
  const url = `http://127.0.0.1:${port}`;
  for (let i = 0; ; i++) {
    if (
      await fetch(`${url}/api/health`).then(
        (r) => r.ok,
        () => false,
      )
    )
      break;
    if (i > 100 || child.exitCode !== null)
      throw new Error(`nginx did not start: ${await readFile(path.join(prefix, 'logs/error.log'), 'utf8')}`);
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
  return {
    url,
    stop: async () => {
      child.kill('SIGTERM');
      if (child.exitCode === null) await new Promise((resolve) => child.once('exit', resolve));
    },
  };
}

describe('originals sent by nginx (X-Accel-Redirect)', () => {
  let nook: TestNook;
  let nginx: { url: string; stop(): Promise<void> };
  let admin: TestClient;
  let token: string;
  let data: Buffer;
  let id: string;

  const curl = async (...args: string[]) =>
    (
      await run('curl', ['-sS', '-H', `Authorization: Bearer ${token}`, ...args], {
        encoding: 'buffer',
        maxBuffer: 64 << 20,
      })
    ).stdout;
  const headersOf = (raw: Buffer) => {
    const text = raw.toString('latin1');
    const head = text.slice(0, text.indexOf('\r\n\r\n'));
    return { status: head.split('\r\n')[0]!, head, body: raw.subarray(head.length + 4) };
  };

  beforeAll(async () => {
    nook = await startTestNook({ workers: false, accelRedirect: '/internal-originals/' });
    nginx = await startNginx(nook.url);
    admin = await setUpAdmin(nook.url);
    ({ token } = await admin.mutate<{ token: string }>('auth.createToken', {
      name: 'curl',
      scopes: ['read'],
    }));
    data = Buffer.concat([await makeJpeg({ seed: '2468ac' }), randomBytes(3 * 1024 * 1024)]);
    const [item] = (await (
      await admin.upload([{ name: 'Fête #1 100%.jpg', data, type: 'image/jpeg' }])
    ).json()) as { id: string }[];
    id = item!.id;
  });

  afterAll(async () => {
    await nginx?.stop();
    await nook?.close();
  });

  it('names the file for nginx, percent-encoded, and sends no bytes itself', async () => {
    expect(accelRedirectPath('/internal-originals/', '/srv/a b/Fête #1 100%.jpg')).toBe(
      '/internal-originals/srv/a%20b/F%C3%AAte%20%231%20100%25.jpg',
    );
    const direct = await admin.fetch(`/api/assets/${id}/original`);
    expect(direct.status).toBe(200);
    expect(direct.headers.get('x-accel-redirect')).toMatch(
      /^\/internal-originals\/.*\/F%C3%AAte%20%231%20100%25\.jpg$/,
    );
    expect((await direct.arrayBuffer()).byteLength).toBe(0);
  });

  it('lets nginx send the whole file with the headers Nook chose', async () => {
    const { status, head, body } = headersOf(await curl('-i', `${nginx.url}/api/assets/${id}/original`));
    expect(status).toBe('HTTP/1.1 200 OK');
    expect(body.equals(data)).toBe(true);
    expect(head).toMatch(/^Server: nginx/m);
    expect(head).toMatch(/^Content-Type: image\/jpeg\r?$/m);
    expect(head).toMatch(
      /^Content-Disposition: inline; filename="Fete #1 100%\.jpg"; filename\*=UTF-8''F%C3%AAte/im,
    );
    expect(head).toMatch(/^Content-Security-Policy: default-src 'none'; img-src 'self'; media-src 'self';/m);
    expect(head).toMatch(/^X-Content-Type-Options: nosniff\r?$/m);
    expect(head).toMatch(/^Cache-Control: private, no-cache\r?$/im);
    expect(head).not.toMatch(/^X-Accel-Redirect/im);
  });

  it('lets nginx answer ranges, several at once, and its own validators', async () => {
    const one = headersOf(await curl('-i', '-r', '100-199', `${nginx.url}/api/assets/${id}/original`));
    expect(one.status).toBe('HTTP/1.1 206 Partial Content');
    expect(one.body.equals(data.subarray(100, 200))).toBe(true);

    const several = headersOf(
      await curl('-i', '-r', '0-9,1000-1009', `${nginx.url}/api/assets/${id}/original`),
    );
    expect(several.status).toBe('HTTP/1.1 206 Partial Content');
    expect(several.head).toMatch(/^Content-Type: multipart\/byteranges; boundary=/m);

    const etag = /^ETag: (.+?)\r?$/m.exec(
      headersOf(await curl('-I', `${nginx.url}/api/assets/${id}/original`)).head,
    )![1]!;
    const notModified = headersOf(
      await curl('-i', '-H', `If-None-Match: ${etag}`, `${nginx.url}/api/assets/${id}/original`),
    );
    expect(notModified.status).toBe('HTTP/1.1 304 Not Modified');
    const weak = headersOf(
      await curl('-i', '-H', `If-None-Match: W/${etag}`, `${nginx.url}/api/assets/${id}/original`),
    );
    expect(weak.status).toBe('HTTP/1.1 304 Not Modified');
  });

  it('still refuses what Nook refuses, and nobody reaches the internal location', async () => {
    const stranger = await run('curl', [
      '-s',
      '-o',
      '/dev/null',
      '-w',
      '%{http_code}',
      `${nginx.url}/api/assets/${id}/original`,
    ]);
    expect(stranger.stdout).toBe('401');
    const inside = await run('curl', [
      '-s',
      '-o',
      '/dev/null',
      '-w',
      '%{http_code}',
      `${nginx.url}/internal-originals/etc/passwd`,
    ]);
    expect(inside.stdout).toBe('404');
  });

  it("sends a share link's original the same way", async () => {
    const share = await admin.mutate<{ url: string }>('shares.create', { assetId: id, allowDownload: true });
    const token = share.url.replace(/^\/s\//, '');
    const response = await fetch(`${nginx.url}/api/shares/${token}/original`);
    expect(response.status).toBe(200);
    expect(response.headers.get('server')).toMatch(/^nginx/);
    expect(Buffer.from(await response.arrayBuffer()).equals(data)).toBe(true);
  });
});
