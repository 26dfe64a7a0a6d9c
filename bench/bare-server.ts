// The bare-Node baselines, run as a child process like Nook: POST streams to disk while hashing (with
// ?fsync=1, answering only once the bytes are on disk); GET streams a file.
import { createHash, randomUUID } from 'node:crypto';
import { createReadStream, createWriteStream } from 'node:fs';
import { open, rm, stat } from 'node:fs/promises';
import http from 'node:http';
import path from 'node:path';
import { Transform } from 'node:stream';
import { pipeline } from 'node:stream/promises';

const port = Number(process.env.BENCH_PORT);
const uploadDir = process.env.BENCH_UPLOAD_DIR ?? '';
const servedFile = process.env.BENCH_SERVED_FILE ?? '';

async function receive(
  request: http.IncomingMessage,
  response: http.ServerResponse,
  durable: boolean,
): Promise<void> {
  const target = path.join(uploadDir, `${randomUUID()}.part`);
  const hash = createHash('sha256');
  let size = 0;
  const meter = new Transform({
    transform(chunk: Buffer, _encoding, callback) {
      size += chunk.length;
      hash.update(chunk);
      callback(null, chunk);
    },
  });
  await pipeline(request, meter, createWriteStream(target));
  if (durable) {
    const handle = await open(target, 'r');
    await handle.datasync();
    await handle.close();
  }
  response.writeHead(201, { 'Content-Type': 'application/json' });
  response.end(JSON.stringify({ sha256: hash.digest('hex'), size }));
  // The copy is only evidence that the bytes reached the disk; keeping one per run would fill it.
  await rm(target, { force: true });
}

async function serve(url: URL, response: http.ServerResponse): Promise<void> {
  const chunk = Number(url.searchParams.get('chunk') ?? 64 * 1024);
  const { size } = await stat(servedFile);
  response.writeHead(200, { 'Content-Type': 'application/octet-stream', 'Content-Length': size });
  await pipeline(createReadStream(servedFile, { highWaterMark: chunk }), response);
}

http
  .createServer((request, response) => {
    const url = new URL(request.url ?? '/', 'http://localhost');
    if (url.pathname === '/health') {
      response.end();
      return;
    }
    const work =
      request.method === 'POST'
        ? receive(request, response, url.searchParams.get('fsync') === '1')
        : serve(url, response);
    work.catch((error: unknown) => {
      console.error(error);
      if (!response.headersSent) response.writeHead(500);
      response.end();
    });
  })
  .listen(port, '127.0.0.1');
