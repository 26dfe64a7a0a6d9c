// `node --import tsx bench/media/run.ts`: Nook's thumbnails, HEIC, RAW and video posters against a naive sharp and vipsthumbnail.
import { execFile } from 'node:child_process';
import { mkdir, rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import sharp from 'sharp';
import { dng, heic, photo, video } from '../../test/media-files';
import type { Measurement, Method, Task } from './measure';

const run = promisify(execFile);
const benchDir = path.dirname(fileURLToPath(import.meta.url));
const repoRoot = path.resolve(benchDir, '../..');
const work = path.join(repoRoot, 'bench/work/media');
const results = path.join(repoRoot, 'bench/results');
const cores = os.availableParallelism();
const seconds = Number(process.env.NOOK_BENCH_MEDIA_SECONDS ?? 4);

interface Row extends Measurement {
  name: string;
  input: string;
  cores: '1' | 'all';
}

/** Each measurement runs in a fresh process: its peak RSS is its own, and "1 core" is pinned with taskset. */
async function measure(
  name: string,
  input: string,
  method: Method,
  file: string,
  oneCore: boolean,
): Promise<Row> {
  const task: Task = { method, file, parallel: oneCore ? 1 : cores, vipsThreads: oneCore ? 1 : 0, seconds };
  const node = [process.execPath, '--import', 'tsx', path.join(benchDir, 'measure.ts'), JSON.stringify(task)];
  const [command, ...args] = oneCore ? ['taskset', '-c', '0', ...node] : node;
  const { stdout } = await run(command!, args, {
    cwd: repoRoot,
    maxBuffer: 1024 * 1024,
    // vipsthumbnail reads its thread count from the environment, sharp from sharp.concurrency().
    env: { ...process.env, ...(oneCore ? { VIPS_CONCURRENCY: '1' } : {}) },
  });
  const row: Row = { name, input, cores: oneCore ? '1' : 'all', ...(JSON.parse(stdout) as Measurement) };
  console.error(
    `${name.padEnd(34)} ${input.padEnd(10)} ${row.cores.padEnd(3)} ${row.perSecond.toFixed(2)}/s`,
  );
  return row;
}

async function makeInputs() {
  await rm(work, { recursive: true, force: true });
  await mkdir(work, { recursive: true });
  const file = (name: string) => path.join(work, name);
  const [mp24, mp12] = await Promise.all([photo(6000, 4000), photo(4032, 3024)]);
  await writeFile(file('24mp.jpg'), mp24);
  await writeFile(file('12mp.jpg'), mp12);
  await heic(mp12, file('12mp.heic'), 50);
  // A RAW's full-size preview is a camera JPEG of the whole sensor: 24 MP here, orientation 1.
  const preview = await sharp(mp24).jpeg({ quality: 85 }).toBuffer();
  await writeFile(file('24mp.dng'), dng({ preview, previewWidth: 6000, previewHeight: 4000 }));
  await video(file('1080p.mp4'), { codec: 'h264', width: 1920, height: 1080, seconds: 10, blackSeconds: 1 });
  await video(file('4k.mov'), { codec: 'hevc', width: 3840, height: 2160, seconds: 6, blackSeconds: 1 });
  return file;
}

function ratio(value: number, reference: number | undefined): string {
  return reference ? `${(value / reference).toFixed(2)}×` : '';
}

function toMarkdown(rows: Row[], facts: Record<string, string | number>): string {
  const find = (name: string, input: string, cores: string) =>
    rows.find((row) => row.name === name && row.input === input && row.cores === cores);
  const lines = [
    `# Media bench, ${facts.date}`,
    '',
    `${facts.cpu}, ${facts.cores} cores, Node ${facts.node}, sharp ${facts.sharp} (libvips ${facts.libvips}), ${seconds} s per row.`,
    '',
    '| Scenario | Input | Cores | Images/s | vs naive (aim ≥ 3×) | vs vipsthumbnail (aim ≥ 0.8×) | Peak RSS MiB |',
    '| --- | --- | --- | --- | --- | --- | --- |',
  ];
  for (const row of rows) {
    const naive = row.name.startsWith('Nook thumbnails')
      ? find('naive sharp', row.input, row.cores)
      : undefined;
    const vips = row.name.startsWith('Nook thumbnails')
      ? find('vipsthumbnail', row.input, row.cores)
      : undefined;
    lines.push(
      `| ${row.name} | ${row.input} | ${row.cores} | ${row.perSecond.toFixed(2)} | ${naive ? ratio(row.perSecond, naive.perSecond) : ''} | ${vips ? ratio(row.perSecond, vips.perSecond) : ''} | ${row.maxRssMiB} |`,
    );
  }
  lines.push(
    '',
    'Nook thumbnails = 250 px WebP + 1440 px JPEG + thumbhash from one decode. naive sharp = the same three',
    'outputs as three pipelines on the file. vipsthumbnail = Debian libvips-tools making the 250 px WebP only,',
    'one process per image. Posters = probeVideo + makeVideoPoster. Peak RSS is the measuring process’s own.',
  );
  return `${lines.join('\n')}\n`;
}

const file = await makeInputs();
const rows: Row[] = [];
for (const input of ['24mp.jpg', '12mp.jpg']) {
  for (const oneCore of [true, false]) {
    rows.push(await measure('Nook thumbnails', input, 'nook', file(input), oneCore));
    rows.push(await measure('naive sharp', input, 'naive', file(input), oneCore));
    rows.push(await measure('vipsthumbnail', input, 'vipsthumbnail', file(input), oneCore));
  }
}
for (const oneCore of [true, false]) {
  rows.push(
    await measure('Nook thumbnails (HEIC, heif-convert)', '12mp.heic', 'nook', file('12mp.heic'), oneCore),
  );
  rows.push(
    await measure('HEIC via heic-decode (WASM)', '12mp.heic', 'heic-wasm', file('12mp.heic'), oneCore),
  );
  rows.push(await measure('Nook thumbnails (RAW preview)', '24mp.dng', 'nook', file('24mp.dng'), oneCore));
  rows.push(await measure('Nook video poster (H.264)', '1080p.mp4', 'poster', file('1080p.mp4'), oneCore));
  rows.push(await measure('Nook video poster (HEVC)', '4k.mov', 'poster', file('4k.mov'), oneCore));
}

const versions = sharp.versions as { sharp?: string; vips: string };
const facts = {
  date: new Date().toISOString(),
  cpu: os.cpus()[0]?.model ?? 'unknown CPU',
  cores,
  node: process.versions.node,
  sharp: versions.sharp ?? 'unknown',
  libvips: versions.vips,
  vipsthumbnail: (await run('vipsthumbnail', ['--version'])).stdout.trim(),
  ffmpeg: (await run('ffmpeg', ['-version'])).stdout.split('\n')[0] ?? '',
};
const markdown = toMarkdown(rows, facts);
const json = `${JSON.stringify({ facts, seconds, rows }, null, 2)}\n`;
await mkdir(results, { recursive: true });
await writeFile(path.join(results, `media-${facts.date.replace(/[:.]/g, '-')}.json`), json);
await writeFile(path.join(results, 'media-latest.json'), json);
await writeFile(path.join(results, 'media-latest.md'), markdown);
await rm(work, { recursive: true, force: true });
console.log(markdown);
