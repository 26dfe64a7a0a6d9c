// The clients every contender is measured with (one for uploads, one for downloads), so client costs weigh alike.
import { execFile } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { createReadStream } from 'node:fs';
import http from 'node:http';
import { basename } from 'node:path';
import { pipeline } from 'node:stream/promises';
import { promisify } from 'node:util';
import type { TestFile } from './data';

const execFileAsync = promisify(execFile);

export interface Timed<T> {
  seconds: number;
  result: T;
}

const CLIENT_CHUNK_BYTES = 1024 * 1024;

/**
 * POSTs `file` as multipart/form-data (field `file`), streamed from disk with an exact Content-Length:
 * a browser's upload has that shape, and buffering a GiB in the client would measure the client.
 */
export async function upload(
  url: string,
  file: TestFile,
  headers: Record<string, string> = {},
): Promise<Timed<{ status: number; body: string }>> {
  const boundary = `----nook-bench-${randomBytes(12).toString('hex')}`;
  const preamble = Buffer.from(
    `--${boundary}\r\n` +
      `Content-Disposition: form-data; name="file"; filename="${basename(file.path)}"\r\n` +
      'Content-Type: application/octet-stream\r\n\r\n',
  );
  const epilogue = Buffer.from(`\r\n--${boundary}--\r\n`);
  const started = process.hrtime.bigint();
  const request = http.request(url, {
    method: 'POST',
    headers: {
      ...headers,
      'Content-Type': `multipart/form-data; boundary=${boundary}`,
      'Content-Length': preamble.length + file.size + epilogue.length,
    },
  });
  const responded = new Promise<http.IncomingMessage>((resolve, reject) => {
    request.on('response', resolve);
    request.on('error', reject);
  });
  async function* body() {
    yield preamble;
    yield* createReadStream(file.path, { highWaterMark: CLIENT_CHUNK_BYTES });
    yield epilogue;
  }
  // A server may answer (e.g. 413) before reading everything; its reply matters more than the write error.
  const sent = pipeline(body, request).catch(() => undefined);
  const response = await responded;
  let text = '';
  response.setEncoding('utf8');
  for await (const chunk of response) text += chunk as string;
  await sent;
  return { seconds: secondsSince(started), result: { status: response.statusCode ?? 0, body: text } };
}

/**
 * GETs `url` with curl into /dev/null. Measured here, Node's own http client topped out well below nginx
 * (about 2.0 vs 2.8 GB/s on the same file) and would have flattened the differences under test; curl reports
 * its own transfer time, so its process start-up is not counted. The byte count and status are checked so a
 * short or failed transfer cannot pass for a fast one.
 */
export async function download(
  url: string,
  headers: Record<string, string> = {},
): Promise<Timed<{ status: number; bytes: number }>> {
  const { stdout } = await execFileAsync('curl', [
    ...Object.entries(headers).flatMap(([name, value]) => ['--header', `${name}: ${value}`]),
    '--silent',
    '--output',
    '/dev/null',
    '--write-out',
    '%{http_code} %{size_download} %{time_total}',
    url,
  ]);
  const [status, bytes, seconds] = stdout.trim().split(' ').map(Number);
  return { seconds: seconds ?? NaN, result: { status: status ?? 0, bytes: bytes ?? 0 } };
}

function secondsSince(started: bigint): number {
  return Number(process.hrtime.bigint() - started) / 1e9;
}
