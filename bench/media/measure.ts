// One media bench measurement in its own process: `measure.ts '<json Task>'` prints a JSON Measurement.
import { execFile } from 'node:child_process';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { promisify } from 'node:util';
import heicDecode from 'heic-decode';
import sharp from 'sharp';
import { rgbaToThumbHash } from 'thumbhash';
import { withHeifAsJpeg } from '../../packages/media/src/decoders';
import { makeThumbnails, makeVideoPoster, probeVideo } from '../../packages/media/src/index';
import { PREVIEW_SIZE, decodeImage, writeDerivatives } from '../../packages/media/src/thumbnails';
import { runTool } from '../../packages/media/src/tools';

const run = promisify(execFile);

export type Method =
  'nook' | 'naive' | 'vipsthumbnail' | 'heif-convert' | 'heic-wasm' | 'poster' | 'poster-accurate';

export interface Task {
  method: Method;
  file: string;
  /** Items in flight at once. */
  parallel: number;
  /** libvips threads per pipeline; 0 keeps sharp's default (one per core). */
  vipsThreads: number;
  seconds: number;
  /** 'rate' runs for `seconds` after a warm-up item; 'peak' runs one item and reports memory. */
  mode: 'rate' | 'peak';
}

export interface Measurement {
  items: number;
  elapsed: number;
  perSecond: number;
  /** CPU time (user + system, this process and its children) per item. */
  cpuMsPerItem: number;
}

export interface PeakMeasurement {
  /** VmRSS of the process before the item (Node, sharp and the bench loaded). */
  idleMiB: number;
  /** VmHWM of the process after the item: its own exact peak. */
  processPeakMiB: number;
  /** The largest peak RSS of the process's children (ffmpeg, heif-convert, exiftool), by GNU time. */
  childPeakMiB: number;
  /** What the job adds to an idle worker: the process's growth plus its largest child. */
  jobMiB: number;
  /** processPeakMiB + childPeakMiB: an upper bound of the whole process tree at once. */
  totalMiB: number;
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
    case 'heif-convert':
      // Nook's HEIC path before ffmpeg: libheif to a temporary JPEG, shrunk on load by sharp.
      return async (out) =>
        writeDerivatives(await withHeifAsJpeg(file, (jpeg) => decodeImage(jpeg, 1)), targets(out));
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
    case 'poster-accurate':
      return async (out) => accuratePoster(file, targets(out));
  }
}

/**
 * Nook's poster before keyframe seeking: ffprobe, then an exact frame at 10 % of the video
 * (ffmpeg decodes from the keyframe before it up to that frame) and at 50 % if that one is dark.
 */
async function accuratePoster(file: string, targets: { thumbPath: string; previewPath: string }) {
  const { stdout } = await runTool('ffprobe', [
    ...['-v', 'error', '-print_format', 'json', '-show_format', '-show_streams', file],
  ]);
  const probe = JSON.parse(stdout.toString()) as {
    streams: { codec_type: string; width: number; height: number }[];
    format: { duration: string };
  };
  const stream = probe.streams.find((s) => s.codec_type === 'video')!;
  const duration = Number(probe.format.duration);
  const scale = Math.min(1, PREVIEW_SIZE / Math.max(stream.width, stream.height));
  const width = Math.round(stream.width * scale);
  const height = Math.round(stream.height * scale);
  let best: { data: Buffer; brightness: number } | undefined;
  for (const at of [duration * 0.1, duration * 0.5]) {
    const frame = await runTool('ffmpeg', [
      ...['-nostdin', '-v', 'error', '-ss', at.toFixed(3), '-i', file, '-map', '0:v:0', '-frames:v', '1'],
      ...['-vf', `scale=${width}:${height}:flags=bilinear`, '-f', 'rawvideo', '-pix_fmt', 'rgb24', '-'],
    ]);
    let sum = 0;
    for (let i = 0; i < frame.stdout.length; i += 183) sum += frame.stdout[i]!;
    const brightness = sum / Math.ceil(frame.stdout.length / 183);
    if (!best || brightness > best.brightness) best = { data: frame.stdout, brightness };
    if (brightness >= 24) break;
  }
  return writeDerivatives({ data: best!.data, width, height, channels: 3 }, targets);
}

/** User + system time of this process and its reaped children, in milliseconds. */
async function cpuMs(): Promise<number> {
  const fields = (await readFile('/proc/self/stat', 'utf8')).split(') ')[1]!.split(' ');
  // utime, stime, cutime, cstime are fields 14–17 of the whole line; 12–15 after "(comm) ".
  const ticks = [11, 12, 13, 14].reduce((sum, i) => sum + Number(fields[i]), 0);
  return ticks * 10;
}

async function statusMiB(pid: number | 'self', key: 'VmRSS' | 'VmHWM'): Promise<number> {
  try {
    const status = await readFile(`/proc/${pid}/status`, 'utf8');
    const kb = Number(new RegExp(`^${key}:\\s+(\\d+)`, 'm').exec(status)?.[1] ?? 0);
    return kb / 1024;
  } catch {
    return 0;
  }
}

/** The external tools a job may run. */
const TOOLS = ['ffmpeg', 'ffprobe', 'heif-convert', 'exiftool', 'vipsthumbnail'];

/**
 * Puts a shim for each tool first on PATH that runs the real one under GNU time, which logs
 * its peak RSS (KiB) to `log`: exact peaks, where sampling would miss a short-lived decoder's.
 */
async function measureChildren(log: string): Promise<void> {
  const shims = path.dirname(log);
  for (const tool of TOOLS) {
    const real = (await run('sh', ['-c', `command -v ${tool}`])).stdout.trim();
    const shim = `#!/bin/sh\nexec /usr/bin/time -q -a -o '${log}' -f %M '${real}' "$@"\n`;
    await writeFile(path.join(shims, tool), shim, { mode: 0o755 });
  }
  process.env.PATH = `${shims}:${process.env.PATH ?? ''}`;
}

async function measureRate(task: Task, step: Step): Promise<Measurement> {
  const outs = await Promise.all(
    Array.from({ length: task.parallel }, () => mkdtemp(path.join(os.tmpdir(), 'nook-bench-media-'))),
  );
  try {
    await step(outs[0]!);
    let items = 0;
    const cpuStart = await cpuMs();
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
    const cpu = (await cpuMs()) - cpuStart;
    return { items, elapsed, perSecond: items / elapsed, cpuMsPerItem: cpu / items };
  } finally {
    await Promise.all(outs.map((out) => rm(out, { recursive: true, force: true })));
  }
}

async function measurePeak(step: Step): Promise<PeakMeasurement> {
  const out = await mkdtemp(path.join(os.tmpdir(), 'nook-bench-media-'));
  try {
    const log = path.join(out, 'children.log');
    await measureChildren(log);
    const idleMiB = await statusMiB('self', 'VmRSS');
    await step(out);
    const processPeakMiB = await statusMiB('self', 'VmHWM');
    const logged = await readFile(log, 'utf8').catch(() => '');
    const childKiB = logged
      .split('\n')
      .map(Number)
      .filter((kib) => kib > 0);
    const childPeakMiB = Math.max(0, ...childKiB) / 1024;
    const round = (value: number) => Math.round(value);
    return {
      idleMiB: round(idleMiB),
      processPeakMiB: round(processPeakMiB),
      childPeakMiB: round(childPeakMiB),
      jobMiB: round(processPeakMiB - idleMiB + childPeakMiB),
      totalMiB: round(processPeakMiB + childPeakMiB),
    };
  } finally {
    await rm(out, { recursive: true, force: true });
  }
}

const task = JSON.parse(process.argv[2]!) as Task;
// Every item reads the same file: libvips' operation cache would otherwise serve repeats from memory.
sharp.cache(false);
if (task.vipsThreads) sharp.concurrency(task.vipsThreads);
const step = stepFor(task);
const result = task.mode === 'peak' ? await measurePeak(step) : await measureRate(task, step);
process.stdout.write(JSON.stringify(result));
