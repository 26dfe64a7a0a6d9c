// Runs the Debian nginx on a loopback port as the sendfile reference, with every path it writes kept in the bench dir.
import { spawnSync } from 'node:child_process';
import { mkdir, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { startChild, waitForHttp, type Child } from './proc';

const NGINX = '/usr/sbin/nginx';

export function nginxVersion(): string {
  // nginx prints its version on stderr.
  return spawnSync(NGINX, ['-v'], { encoding: 'utf8' }).stderr.trim();
}

/** deploy/'s snippet that lets nginx send Nook's originals itself (NOOK_ACCEL_REDIRECT). */
const originalsSnippet = fileURLToPath(new URL('../deploy/nginx/nook-originals.conf', import.meta.url));

/**
 * Serves `root` at http://127.0.0.1:<port>/ until stopped; with `nook`, also proxies /api/ to that
 * Nook as docs/reverse-proxy.md does, with deploy/nginx/nook-originals.conf included.
 */
export async function startNginx(prefix: string, root: string, port: number, nook?: string): Promise<Child> {
  await mkdir(path.join(prefix, 'logs'), { recursive: true });
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
  default_type application/octet-stream;
  sendfile on;
  tcp_nopush on;
  client_body_temp_path ${temp('client_body')};
  proxy_temp_path ${temp('proxy')};
  fastcgi_temp_path ${temp('fastcgi')};
  uwsgi_temp_path ${temp('uwsgi')};
  scgi_temp_path ${temp('scgi')};
  server {
    listen 127.0.0.1:${port};
    root ${root};
    location = /health { return 200; }${
      nook
        ? `
    location /api/ {
      proxy_pass ${nook};
      proxy_http_version 1.1;
      proxy_set_header Host $host;
      proxy_buffering off;
    }
    include ${originalsSnippet};`
        : ''
    }
  }
}
`;
  const confPath = path.join(prefix, 'nginx.conf');
  await writeFile(confPath, conf);
  // -e keeps nginx from touching /var/log/nginx before it has read the config.
  const child = startChild(
    'nginx',
    NGINX,
    ['-c', confPath, '-p', prefix, '-e', path.join(prefix, 'logs/error.log')],
    {},
  );
  await waitForHttp(`http://127.0.0.1:${port}/health`, child.process, 10_000);
  return child;
}
