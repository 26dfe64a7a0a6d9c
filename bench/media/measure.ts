// One media bench measurement in its own process: `measure.ts '<json Task>'` prints a JSON Measurement.
import { execFile } from 'node:child_process';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { promisify } from 'node:util';
import heicDecode from 'heic-decode';
import sharp from 'sharp';
import { rgbaToThumbHash } from 'thumbhash';
import { makeThumbnails, makeVideoPoster, probeVideo } from '../../packages/media/src/index';
import { writeDerivatives } from '../../packages/media/src/thumbnails';

const run = promisify(execFile);

export type Method = 'nook' | 'naive' | 'vipsthumbnail' | 'heic-wasm' | 'poster';

export interface Task {
  method: Method;
  file: string;
  /** Items in flight at once. */
  parallel: number;
  /** libvips threads per pipeline; 0 keeps sharp's default (one per core). */
  vipsThreads: number;
  seconds: number;
}

export interface Measurement {
  items: number;
  elapsed: number;
  perSecond: number;
  maxRssMiB: number;
}

type Step = (out: string) => Promise<unknown>;

/** Each step writes the same outputs as Nook: thumb.webp, preview.jpg and (except vipsthumbnail) a thumbhash. */
function stepFor(task: Task): Step {
  const { file } = task;
  const targets = (out: string) => ({
    thumbPath: path.join(out, 'thumb.webp'),
    previewPath: path.join(out, 'preview.jpg'),
  });
  switch (task.method) {
    case 'nook':
      return (out) => makeThumbnails(file, targets(out));
    case 'naive':
      // What most code does: one pipeline per output, each decoding the original again.
      return (out) =>
        Promise.all([
          sharp(file, { failOn: 'error' })
            .rotate()
            .resize(1440, 1440, { fit: 'inside' })
            .jpeg()
            .toFile(targets(out).previewPath),
          sharp(file, { failOn: 'error' })
            .rotate()
            .resize(250, 250, { fit: 'inside' })
            .webp()
            .toFile(targets(out).thumbPath),
          sharp(file, { failOn: 'error' })
            .rotate()
            .resize(100, 100, { fit: 'inside' })
            .ensureAlpha()
            .raw()
            .toBuffer({ resolveWithObject: true })
            .then(({ data, info }) => rgbaToThumbHash(info.width, info.height, data)),
        ]);
    case 'vipsthumbnail':
      return (out) => run('vipsthumbnail', [file, '--size', '250', '-o', path.join(out, 'thumb.webp[Q=78]')]);
    case 'heic-wasm':
      return async (out) => {
        const image = await heicDecode({ buffer: await readFile(file) });
        const { data, info } = await sharp(Buffer.from(image.data.buffer), {
          raw: { width: image.width, height: image.height, channels: 4 },
        })
          .resize(1440, 1440, { fit: 'inside' })
          .raw()
          .toBuffer({ resolveWithObject: true });
        return writeDerivatives({ data, width: info.width, height: info.height, channels: 4 }, targets(out));
      };
    case 'poster':
      return async (out) => makeVideoPoster(file, targets(out), await probeVideo(file));
  }
}

async function measure(task: Task): Promise<Measurement> {
  // Every item reads the same file: libvips' operation cache would otherwise serve repeats from memory.
  sharp.cache(false);
  if (task.vipsThreads) sharp.concurrency(task.vipsThreads);
  const step = stepFor(task);
  const outs = await Promise.all(
    Array.from({ length: task.parallel }, () => mkdtemp(path.join(os.tmpdir(), 'nook-bench-media-'))),
  );
  try {
    await step(outs[0]!);
    let items = 0;
    const started = performance.now();
    const deadline = started + task.seconds * 1000;
    await Promise.all(
      outs.map(async (out) => {
        while (performance.now() < deadline) {
          await step(out);
          items++;
        }
      }),
    );
    const elapsed = (performance.now() - started) / 1000;
    const maxRssMiB = Math.round(process.resourceUsage().maxRSS / 1024);
    return { items, elapsed, perSecond: items / elapsed, maxRssMiB };
  } finally {
    await Promise.all(outs.map((out) => rm(out, { recursive: true, force: true })));
  }
}

process.stdout.write(JSON.stringify(await measure(JSON.parse(process.argv[2]!) as Task)));
