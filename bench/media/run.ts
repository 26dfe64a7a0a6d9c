// `npm run bench:media`: Nook's thumbnails, HEIC, RAW and video posters against vipsthumbnail, a naive
// sharp, and Nook's own previous HEIC and poster paths, all measured in this run; peak memory per job.
import { execFile } from 'node:child_process';
import { mkdir, rm, stat, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import sharp from 'sharp';
import { iphoneHeic } from '../../test/iphone-heic';
import { dng, heic, photo, video } from '../../test/media-files';
import type { Measurement, Method, PeakMeasurement, Task } from './measure';

const run = promisify(execFile);
const benchDir = path.dirname(fileURLToPath(import.meta.url));
const repoRoot = path.resolve(benchDir, '../..');
const work = path.join(repoRoot, 'bench/work/media');
const results = path.join(repoRoot, 'bench/results');
const cores = os.availableParallelism();
const seconds = Number(process.env.NOOK_BENCH_MEDIA_SECONDS ?? 4);
/** Peak memory per job must stay under this (a 1 GB Pi runs two jobs). */
const MEMORY_LIMIT_MIB = 300;

interface Row extends Measurement {
  name: string;
  input: string;
  cores: '1' | 'all';
}

interface PeakRow extends PeakMeasurement {
  name: string;
  input: string;
}

function child(task: Task, oneCore: boolean): Promise<string> {
  const node = [process.execPath, '--import', 'tsx', path.join(benchDir, 'measure.ts'), JSON.stringify(task)];
  const [command, ...args] = oneCore ? ['taskset', '-c', '0', ...node] : node;
  return run(command!, args, {
    cwd: repoRoot,
    maxBuffer: 1024 * 1024,
    // vipsthumbnail reads its thread count from the environment, sharp from sharp.concurrency().
    env: { ...process.env, ...(oneCore ? { VIPS_CONCURRENCY: '1' } : {}) },
  }).then(({ stdout }) => stdout);
}

/** Each measurement runs in a fresh process: "1 core" is pinned with taskset, and memory is its own. */
async function measure(name: string, input: string, method: Method, oneCore: boolean): Promise<Row> {
  const task: Task = {
    method,
    file: path.join(work, input),
    parallel: oneCore ? 1 : cores,
    vipsThreads: oneCore ? 1 : 0,
    seconds,
    mode: 'rate',
  };
  const row: Row = {
    name,
    input,
    cores: oneCore ? '1' : 'all',
    ...(JSON.parse(await child(task, oneCore)) as Measurement),
  };
  console.error(
    `${name.padEnd(40)} ${input.padEnd(22)} ${row.cores.padEnd(3)} ${row.perSecond.toFixed(2).padStart(6)}/s ${row.cpuMsPerItem.toFixed(0).padStart(5)} ms CPU`,
  );
  return row;
}

/** One item in a fresh process with sharp's production defaults (all cores). */
async function peak(name: string, input: string, method: Method): Promise<PeakRow> {
  const task: Task = {
    method,
    file: path.join(work, input),
    parallel: 1,
    vipsThreads: 0,
    seconds,
    mode: 'peak',
  };
  const row: PeakRow = { name, input, ...(JSON.parse(await child(task, false)) as PeakMeasurement) };
  console.error(
    `peak ${name.padEnd(35)} ${input.padEnd(22)} job ${row.jobMiB} MiB, tree ${row.totalMiB} MiB`,
  );
  return row;
}

async function makeInputs(): Promise<Record<string, string>> {
  await rm(work, { recursive: true, force: true });
  await mkdir(work, { recursive: true });
  const file = (name: string) => path.join(work, name);
  const [mp24, mp12] = await Promise.all([photo(6000, 4000), photo(4032, 3024)]);
  await writeFile(file('24mp.jpg'), mp24);
  await writeFile(file('12mp.jpg'), mp12);
  const exif = (
    await sharp({ create: { width: 8, height: 8, channels: 3, background: '#000' } })
      .withExif({
        IFD0: { Make: 'Apple', Model: 'iPhone 14' },
        IFD2: { DateTimeOriginal: '2024:07:01 12:00:00' },
      })
      .jpeg()
      .toBuffer()
      .then((jpeg) => sharp(jpeg).metadata())
  ).exif;
  // As iPhones store 12 MP: 512 px HEVC tiles, a 320 px thumbnail item, EXIF. crf 32 gives
  // 3.4 MB for this grainy picture, at the heavy end of what iPhones write (about 1.5–3.5 MB).
  await iphoneHeic(mp12, file('iphone-12mp.heic'), { crf: 32, exif });
  // The file earlier runs used: libheif's heif-enc, one 12 MP picture, no tiles.
  await heic(mp12, file('heif-enc-12mp.heic'), 50);
  // A RAW's full-size preview is a camera JPEG of the whole sensor: 24 MP here, orientation 1.
  const preview = await sharp(mp24).jpeg({ quality: 85 }).toBuffer();
  await writeFile(file('24mp.dng'), dng({ preview, previewWidth: 6000, previewHeight: 4000 }));
  // Phones record a keyframe about every second; encoders left alone make one for the whole clip.
  const clip = { seconds: 6, blackSeconds: 1 };
  await video(file('1080p.mp4'), { codec: 'h264', width: 1920, height: 1080, ...clip, keyframeSeconds: 1 });
  // What an iPhone records by default.
  await video(file('1080p.mov'), { codec: 'hevc', width: 1920, height: 1080, ...clip, keyframeSeconds: 1 });
  await video(file('4k.mov'), { codec: 'hevc', width: 3840, height: 2160, ...clip, keyframeSeconds: 1 });
  await video(file('4k-one-keyframe.mov'), { codec: 'hevc', width: 3840, height: 2160, ...clip });
  const sizes: Record<string, string> = {};
  for (const name of [
    '24mp.jpg',
    '12mp.jpg',
    'iphone-12mp.heic',
    'heif-enc-12mp.heic',
    '24mp.dng',
    '1080p.mp4',
    '1080p.mov',
    '4k.mov',
    '4k-one-keyframe.mov',
  ]) {
    sizes[name] = `${((await stat(file(name))).size / 1e6).toFixed(1)} MB`;
  }
  return sizes;
}

const fixed = (value: number, digits = 2) => value.toFixed(digits);

interface Aim {
  what: string;
  measured: string;
  aim: string;
  met: boolean;
}

/**
 * Wall-clock figures swing with whatever else runs on a shared machine, so each aim is also
 * judged by CPU time per item (for rates: what every core to itself would reach), and is met
 * only when both reach it.
 */
function aims(rows: Row[], peaks: PeakRow[]): Aim[] {
  const find = (name: string, input: string, cores: '1' | 'all') =>
    rows.find((row) => row.name === name && row.input === input && row.cores === cores)!;
  const nookJpeg = find('Nook thumbnails', '24mp.jpg', '1');
  const vips = find('vipsthumbnail', '24mp.jpg', '1');
  const heicAll = find('Nook thumbnails (HEIC)', 'iphone-12mp.heic', 'all');
  const posterAll = find('Nook video poster', '4k.mov', 'all');
  const worst = peaks.reduce((a, b) => (b.jobMiB > a.jobMiB ? b : a));
  const capacity = (row: Row) => (cores * 1000) / row.cpuMsPerItem;
  const wallRatio = nookJpeg.perSecond / vips.perSecond;
  const cpuRatio = vips.cpuMsPerItem / nookJpeg.cpuMsPerItem;
  return [
    {
      what: '24 MP JPEG, 1 core: thumbnail + preview + thumbhash vs vipsthumbnail (thumbnail only)',
      measured: `${fixed(wallRatio)}× by the clock (${fixed(nookJpeg.perSecond)} vs ${fixed(vips.perSecond)}/s), ${fixed(cpuRatio)}× by CPU time (${fixed(nookJpeg.cpuMsPerItem, 0)} vs ${fixed(vips.cpuMsPerItem, 0)} ms)`,
      aim: '≥ 1.0×',
      met: wallRatio >= 1 && cpuRatio >= 1,
    },
    {
      what: '12 MP iPhone-like HEIC, all cores',
      measured: `${fixed(heicAll.perSecond)}/s by the clock, ${fixed(capacity(heicAll))}/s by CPU time (${fixed(heicAll.cpuMsPerItem, 0)} ms)`,
      aim: '≥ 4/s',
      met: heicAll.perSecond >= 4 && capacity(heicAll) >= 4,
    },
    {
      what: '4K HEVC video poster (keyframe every second), all cores',
      measured: `${fixed(posterAll.perSecond)}/s by the clock, ${fixed(capacity(posterAll))}/s by CPU time (${fixed(posterAll.cpuMsPerItem, 0)} ms)`,
      aim: '≥ 2/s',
      met: posterAll.perSecond >= 2 && capacity(posterAll) >= 2,
    },
    {
      what: 'Peak memory of one job (what it adds to an idle worker, its decoder child included)',
      measured: `${worst.jobMiB} MiB at most (${worst.name}, ${worst.input}; whole process tree ${worst.totalMiB} MiB)`,
      aim: `< ${MEMORY_LIMIT_MIB} MiB`,
      met: worst.jobMiB < MEMORY_LIMIT_MIB,
    },
  ];
}

function toMarkdown(
  rows: Row[],
  peaks: PeakRow[],
  facts: Record<string, string | number>,
  sizes: Record<string, string>,
): string {
  const find = (name: string, input: string, cores: string) =>
    rows.find((row) => row.name === name && row.input === input && row.cores === cores);
  const references: Record<string, string[]> = {
    'Nook thumbnails': ['vipsthumbnail', 'naive sharp'],
    'Nook thumbnails (HEIC)': ['HEIC via heif-convert (before)'],
    'Nook video poster': ['poster, exact seek (before)'],
  };
  const lines = [
    `# Media bench, ${facts.date}`,
    '',
    `${facts.cpu}, ${facts.cores} cores, Node ${facts.node}, sharp ${facts.sharp} (libvips ${facts.libvips}), ${facts.ffmpeg}, ${seconds} s per row.`,
    `Load average (1, 5, 15 min) ${facts.loadBefore} before, ${facts.loadAfter} after: the machine is shared.`,
    '',
    '## Aims',
    '',
    '| What | Measured | Aim | Met |',
    '| --- | --- | --- | --- |',
    ...aims(rows, peaks).map(
      (aim) => `| ${aim.what} | ${aim.measured} | ${aim.aim} | ${aim.met ? 'yes' : 'no'} |`,
    ),
    '',
    '## Throughput',
    '',
    '| Scenario | Input | Cores | Items/s | CPU ms/item | Against |',
    '| --- | --- | --- | --- | --- | --- |',
  ];
  for (const row of rows) {
    const against = (references[row.name] ?? [])
      .map((name) => {
        const reference = find(name, row.input, row.cores);
        return reference ? `${fixed(row.perSecond / reference.perSecond)}× ${name}` : '';
      })
      .filter(Boolean)
      .join(', ');
    lines.push(
      `| ${row.name} | ${row.input} (${sizes[row.input]}) | ${row.cores} | ${fixed(row.perSecond)} | ${fixed(row.cpuMsPerItem, 0)} | ${against} |`,
    );
  }
  lines.push(
    '',
    '## Peak memory of one job',
    '',
    'One item in a fresh process with sharp’s defaults. Idle = the Node process before the item (Node, tsx,',
    'sharp loaded); process peak = its VmHWM after; child peak = the largest peak RSS of its decoder children',
    '(GNU time). Job = process peak − idle + child peak: what one job adds to a running worker. Tree = process',
    'peak + child peak, an upper bound of everything at once (RSS counts shared library pages in each process).',
    '',
    '| Job | Input | Idle MiB | Process peak MiB | Child peak MiB | Job MiB | Tree MiB |',
    '| --- | --- | --- | --- | --- | --- | --- |',
    ...peaks.map(
      (p) =>
        `| ${p.name} | ${p.input} | ${p.idleMiB} | ${p.processPeakMiB} | ${p.childPeakMiB} | ${p.jobMiB} | ${p.totalMiB} |`,
    ),
    '',
    'Nook thumbnails = 250 px WebP + 1440 px JPEG + thumbhash from one decode. vipsthumbnail = Debian',
    'libvips-tools making the 250 px WebP only, one process per image. naive sharp = the same three outputs',
    'as three pipelines on the file. HEIC via heif-convert (before) = libheif to a temporary JPEG, then sharp.',
    'Video poster = probeVideo + makeVideoPoster; exact seek (before) = the exact frame at 10 % (then 50 %),',
    'decoded from the keyframe before it. CPU ms/item counts the process and its children.',
  );
  return `${lines.join('\n')}\n`;
}

const load = () =>
  os
    .loadavg()
    .map((value) => value.toFixed(2))
    .join(', ');
const loadBefore = load();
const sizes = await makeInputs();
const rows: Row[] = [];
for (const input of ['24mp.jpg', '12mp.jpg']) {
  for (const oneCore of [true, false]) {
    rows.push(await measure('Nook thumbnails', input, 'nook', oneCore));
    rows.push(await measure('vipsthumbnail', input, 'vipsthumbnail', oneCore));
    rows.push(await measure('naive sharp', input, 'naive', oneCore));
  }
}
for (const oneCore of [true, false]) {
  for (const input of ['iphone-12mp.heic', 'heif-enc-12mp.heic']) {
    rows.push(await measure('Nook thumbnails (HEIC)', input, 'nook', oneCore));
    rows.push(await measure('HEIC via heif-convert (before)', input, 'heif-convert', oneCore));
  }
  rows.push(await measure('HEIC via heic-decode (WASM)', 'iphone-12mp.heic', 'heic-wasm', oneCore));
  rows.push(await measure('Nook thumbnails (RAW preview)', '24mp.dng', 'nook', oneCore));
  for (const input of ['1080p.mp4', '1080p.mov', '4k.mov', '4k-one-keyframe.mov']) {
    rows.push(await measure('Nook video poster', input, 'poster', oneCore));
    rows.push(await measure('poster, exact seek (before)', input, 'poster-accurate', oneCore));
  }
}
const peaks: PeakRow[] = [];
for (const [name, input, method] of [
  ['Nook thumbnails', '24mp.jpg', 'nook'],
  ['Nook thumbnails', '12mp.jpg', 'nook'],
  ['Nook thumbnails (HEIC)', 'iphone-12mp.heic', 'nook'],
  ['Nook thumbnails (HEIC)', 'heif-enc-12mp.heic', 'nook'],
  ['Nook thumbnails (RAW preview)', '24mp.dng', 'nook'],
  ['Nook video poster', '4k.mov', 'poster'],
  ['Nook video poster', '4k-one-keyframe.mov', 'poster'],
] as const) {
  peaks.push(await peak(name, input, method));
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
  ffmpeg: (await run('ffmpeg', ['-version'])).stdout.split('\n')[0]?.replace(/ Copyright.*/, '') ?? '',
  loadBefore,
  loadAfter: load(),
};
const markdown = toMarkdown(rows, peaks, facts, sizes);
const json = `${JSON.stringify({ facts, seconds, sizes, aims: aims(rows, peaks), rows, peaks }, null, 2)}\n`;
await mkdir(results, { recursive: true });
await writeFile(path.join(results, 'media-latest.json'), json);
await writeFile(path.join(results, 'media-latest.md'), markdown);
await rm(work, { recursive: true, force: true });
console.log(markdown);
