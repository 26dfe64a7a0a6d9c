// Real media for tests, made with sharp.
import { randomBytes } from 'node:crypto';
import sharp from 'sharp';

export async function makeJpeg(
  options: { width?: number; height?: number; orientation?: number; seed?: string } = {},
) {
  const { width = 800, height = 600, orientation, seed = randomBytes(3).toString('hex') } = options;
  const image = sharp({ create: { width, height, channels: 3, background: `#${seed}` } }).jpeg({
    quality: 90,
  });
  return (orientation ? image.withMetadata({ orientation }) : image).toBuffer();
}

export async function makePng(width = 320, height = 200): Promise<Buffer> {
  return sharp({ create: { width, height, channels: 4, background: { r: 200, g: 30, b: 90, alpha: 0.5 } } })
    .png()
    .toBuffer();
}

/** Multipart body for one or more files, as browsers and curl send it. */
export function multipart(files: { name: string; data: Buffer; type?: string }[]): {
  body: Buffer;
  contentType: string;
} {
  const boundary = `----nook${randomBytes(8).toString('hex')}`;
  const parts = files.flatMap((file) => [
    Buffer.from(
      `--${boundary}\r\nContent-Disposition: form-data; name="file"; filename="${file.name}"\r\nContent-Type: ${file.type ?? 'application/octet-stream'}\r\n\r\n`,
    ),
    file.data,
    Buffer.from('\r\n'),
  ]);
  return {
    body: Buffer.concat([...parts, Buffer.from(`--${boundary}--\r\n`)]),
    contentType: `multipart/form-data; boundary=${boundary}`,
  };
}
