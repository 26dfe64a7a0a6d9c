// `node --import tsx bench/pipeline/run.ts [--count N] [--mixed-count N] [--pi]`: files/s from "folder added"
// and from "uploaded" (tus) to "every thumbnail on disk" through the real `nook start`, for 12 MP JPEGs and
// a mixed set (JPEG, HEIC, HEVC video), beside the media bench's per-file limit measured in the same run.
// `--pi` runs Nook and the limit on one core under a 1 GB memory limit, as on a Raspberry Pi.
import { execFile } from 'node:child_process';
import { createHash, randomBytes } from 'node:crypto';
import { access, chmod, mkdir, readdir, readFile, rm, rmdir, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs, promisify } from 'node:util';
import { DataDir } from '@nook/core';
import { heic, photo, video } from '../../test/media-files';
import type { Measurement, Task } from '../media/measure';
import { freePort, startChild, waitForHttp, type Child } from '../proc';

const run = promisify(execFile);
const benchDir = path.dirname(fileURLToPath(import.meta.url));
const repoRoot = path.resolve(benchDir, '../..');
const results = path.join(repoRoot, 'bench/results');

const { values: args } = parseArgs({
  options: {
    count: { type: 'string', default: process.env.NOOK_BENCH_PIPELINE_COUNT ?? '1000' },
    // 0 leaves the mixed set out.
    'mixed-count': { type: 'string', default: '200' },
    pi: { type: 'boolean', default: false },
    // A run that cannot finish (the old 10 s polling) still reports how far it got.
    'timeout-minutes': { type: 'string', default: '30' },
    label: { type: 'string', default: '' },
  },
});
const count = Number(args.count);
const mixedCount = Number(args['mixed-count']);
const timeoutMs = Number(args['timeout-minutes']) * 60_000;
if (!Number.isInteger(count) || count < 1)
  throw new Error(`--count must be a positive integer, got ${args.count}`);
if (!Number.isInteger(mixedCount) || mixedCount < 0)
  throw new Error(`--mixed-count must be a whole number, got ${args['mixed-count']}`);
const pi = args.pi;
const cores = pi ? 1 : os.availableParallelism();
const PI_MEMORY_BYTES = 1024 ** 3;

/**
 * The Pi profile: every process the bench measures runs on CPU 0 (taskset) in a memory cgroup limited
 * to 1 GB — cgroup v2's memory.max where the unified hierarchy has the memory controller, else v1's
 * memory.limit_in_bytes. Children inherit both, so Nook's PostgreSQL and its ffmpeg are held too.
 * systemd-run would do the same where systemd is PID 1; here it is not always.
 */
async function piCgroup(): Promise<string> {
  const v2 = '/sys/fs/cgroup';
  const controllers = await readFile(path.join(v2, 'cgroup.controllers'), 'utf8').catch(() => '');
  if (controllers.split(/\s+/).includes('memory')) {
    const dir = path.join(v2, 'nook-bench-pi');
    await mkdir(dir, { recursive: true });
    await writeFile(path.join(dir, 'memory.max'), String(PI_MEMORY_BYTES));
    await writeFile(path.join(dir, 'memory.swap.max'), '0').catch(() => {});
    return dir;
  }
  const dir = path.join(v2, 'memory', 'nook-bench-pi');
  await mkdir(dir, { recursive: true });
  await writeFile(path.join(dir, 'memory.limit_in_bytes'), String(PI_MEMORY_BYTES));
  // Without swap accounting the limit holds RAM only; swap is then what the kernel allows.
  await writeFile(path.join(dir, 'memory.memsw.limit_in_bytes'), String(PI_MEMORY_BYTES)).catch(() => {});
  return dir;
}

/** `command args` as given, or under the Pi profile: joins the cgroup, then execs on one core (same pid). */
function profiled(cgroup: string | null, command: string, commandArgs: string[]): [string, string[]] {
  if (!cgroup) return [command, commandArgs];
  return [
    'sh',
    ['-c', `echo $$ > ${cgroup}/cgroup.procs && exec taskset -c 0 "$@"`, 'sh', command, ...commandArgs],
  ];
}

async function peakMemoryBytes(cgroup: string | null): Promise<number | null> {
  if (!cgroup) return null;
  for (const file of ['memory.peak', 'memory.max_usage_in_bytes']) {
    const text = await readFile(path.join(cgroup, file), 'utf8').catch(() => null);
    if (text) return Number(text.trim());
  }
  return null;
}

/** One 12 MP photo; every copy gets its own comment segment, so each has its own SHA-256 but decodes alike. */
function jpegVariant(base: Buffer, label: string): Buffer {
  const text = Buffer.from(`nook bench ${label}`);
  const segment = Buffer.alloc(4 + text.length);
  segment.writeUInt16BE(0xfffe, 0);
  segment.writeUInt16BE(2 + text.length, 2);
  text.copy(segment, 4);
  return Buffer.concat([base.subarray(0, 2), segment, base.subarray(2)]);
}

/** HEIC and MP4 are ISO base media files: a trailing `free` box gives each copy its own bytes, read alike. */
function boxVariant(base: Buffer, label: string): Buffer {
  const text = Buffer.from(`nook bench ${label}`);
  const box = Buffer.alloc(8 + text.length);
  box.writeUInt32BE(box.length, 0);
  box.write('free', 4, 'latin1');
  text.copy(box, 8);
  return Buffer.concat([base, box]);
}

const sha256 = (data: Buffer) => createHash('sha256').update(data).digest('hex');

type Kind = 'jpeg' | 'heic' | 'video';
interface Sample {
  kind: Kind;
  file: string;
  extension: string;
  mime: string;
  base: Buffer;
}
/** The mixed set: as a phone camera roll, mostly photos, a share of HEIC, a few short videos. */
const MIX: Record<Kind, number> = { jpeg: 0.7, heic: 0.2, video: 0.1 };

/** `files` of the samples' kinds, in proportion `mix`, each with bytes of its own; name → SHA-256. */
async function writeSet(
  dir: string,
  samples: Sample[],
  files: number,
  mix: Partial<Record<Kind, number>>,
  prefix: string,
): Promise<Map<string, { sha256: string; mime: string }>> {
  await mkdir(dir, { recursive: true });
  const written = new Map<string, { sha256: string; mime: string }>();
  let i = 0;
  for (const sample of samples) {
    const share = mix[sample.kind] ?? 0;
    const last = sample === samples.at(-1);
    const n = last ? files - i : Math.round(files * share);
    for (let k = 0; k < n; k++, i++) {
      const label = `${prefix}-${i}-${randomBytes(4).toString('hex')}`;
      const data = sample.kind === 'jpeg' ? jpegVariant(sample.base, label) : boxVariant(sample.base, label);
      const name = `${prefix}-${String(i).padStart(5, '0')}.${sample.extension}`;
      await writeFile(path.join(dir, name), data);
      written.set(name, { sha256: sha256(data), mime: sample.mime });
    }
  }
  return written;
}

/** The media bench's Nook row for one file (thumbnail + preview + thumbhash, or a video's poster), all cores. */
async function perFileLimit(cgroup: string | null, sample: Sample, seconds: number): Promise<number> {
  const task = {
    method: sample.kind === 'video' ? 'poster' : 'nook',
    file: sample.file,
    parallel: cores,
    vipsThreads: 0,
    seconds,
    mode: 'rate',
  } as Task;
  const [command, commandArgs] = profiled(cgroup, process.execPath, [
    '--import',
    'tsx',
    path.join(repoRoot, 'bench/media/measure.ts'),
    JSON.stringify(task),
  ]);
  const { stdout } = await run(command, commandArgs, { cwd: repoRoot, maxBuffer: 1024 * 1024 });
  return (JSON.parse(stdout) as Measurement).perSecond;
}

/**
 * Files per second the media work alone allows for a set in proportion `mix`: each kind takes
 * 1/rate seconds of the machine per file, so the set's limit is the weighted harmonic mean.
 */
function setLimit(rates: Partial<Record<Kind, number>>, mix: Partial<Record<Kind, number>>): number {
  let secondsPerFile = 0;
  for (const [kind, share] of Object.entries(mix) as [Kind, number][]) secondsPerFile += share / rates[kind]!;
  return 1 / secondsPerFile;
}

/** Waits until the thumbnail and preview of every hash exist; returns when that happened, or how far it got. */
async function allDerived(
  dataDir: DataDir,
  hashes: Iterable<string>,
  deadline: number,
): Promise<{ done: number; at: number; firstAt: number }> {
  const pending = new Set(hashes);
  let firstAt = 0;
  const total = pending.size;
  const exists = (file: string) =>
    access(file).then(
      () => true,
      () => false,
    );
  while (pending.size > 0 && Date.now() < deadline) {
    for (const hash of [...pending]) {
      if (
        (await exists(dataDir.derivedPath(hash, 'thumb'))) &&
        (await exists(dataDir.derivedPath(hash, 'preview')))
      )
        pending.delete(hash);
    }
    if (!firstAt && pending.size < total) firstAt = performance.now();
    if (pending.size > 0) await new Promise((resolve) => setTimeout(resolve, 100));
  }
  return { done: total - pending.size, at: performance.now(), firstAt };
}

/** CPU seconds used so far by a process and each one it started (the embedded PostgreSQL too), by pid. */
async function treeCpuSeconds(root: number): Promise<Map<number, number>> {
  const ticks = 100;
  const stats = new Map<number, { parent: number; cpu: number }>();
  for (const entry of await readdir('/proc')) {
    if (!/^\d+$/.test(entry)) continue;
    const stat = await readFile(`/proc/${entry}/stat`, 'utf8').catch(() => '');
    const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    if (fields.length < 13) continue;
    stats.set(Number(entry), { parent: Number(fields[1]), cpu: Number(fields[11]) + Number(fields[12]) });
  }
  const inTree = (pid: number): boolean => {
    for (let current = pid; current > 1; current = stats.get(current)?.parent ?? 0)
      if (current === root) return true;
    return false;
  };
  const tree = new Map<number, number>();
  for (const [pid, { cpu }] of stats) if (inTree(pid)) tree.set(pid, cpu / ticks);
  return tree;
}

/** CPU used between two samples; a process that exited in between is left out rather than counted negative. */
function cpuBetween(before: Map<number, number>, after: Map<number, number>): number {
  let total = 0;
  for (const [pid, cpu] of after) total += cpu - (before.get(pid) ?? 0);
  return total;
}

async function loadAverage(): Promise<number[]> {
  return os.loadavg().map((value) => Math.round(value * 100) / 100);
}

interface Nook extends Child {
  url: string;
  cookie: string;
  token: string;
}

async function startNook(dataDir: string, libraryRoot: string, cgroup: string | null): Promise<Nook> {
  await mkdir(dataDir, { recursive: true });
  await chmod(dataDir, 0o755);
  const port = await freePort();
  const [command, commandArgs] = profiled(cgroup, process.execPath, [
    path.join(repoRoot, 'apps/cli/bin/nook.js'),
    'start',
  ]);
  const child = startChild('nook', command, commandArgs, {
    cwd: repoRoot,
    env: {
      ...process.env,
      NOOK_DATA_DIR: dataDir,
      NOOK_PORT: String(port),
      NOOK_HOST: '127.0.0.1',
      NOOK_LOG_LEVEL: 'warn',
      NOOK_LIBRARY_ROOTS: libraryRoot,
    },
  });
  const url = `http://127.0.0.1:${port}`;
  try {
    await waitForHttp(`${url}/api/health`, child.process, 120_000);
  } catch (error) {
    await child.stop();
    throw new Error(`Nook did not start: ${(error as Error).message}\n${child.output()}`);
  }
  const nook = { ...child, url, cookie: '', token: '' };
  const setup = await trpc(nook, 'auth.setup', {
    username: 'bench',
    password: randomBytes(12).toString('hex'),
  });
  nook.cookie = setup.headers.getSetCookie()[0]!.split(';')[0]!;
  const created = (await (
    await trpc(nook, 'auth.createToken', { name: 'bench', scopes: ['read', 'upload'] })
  ).json()) as { result: { data: { token: string } } };
  nook.token = created.result.data.token;
  return nook;
}

async function trpc(
  nook: { url: string; cookie: string },
  procedure: string,
  body: unknown,
): Promise<Response> {
  const response = await fetch(`${nook.url}/trpc/${procedure}`, {
    method: 'POST',
    body: JSON.stringify(body),
    headers: { 'content-type': 'application/json', origin: nook.url, cookie: nook.cookie },
  });
  if (!response.ok) throw new Error(`${procedure}: HTTP ${response.status} ${await response.text()}`);
  return response;
}

/**
 * Each file as a resumable (tus) upload — created, then its bytes in one PATCH — two in flight, as the
 * web app sends them. The asset exists when the last PATCH is answered.
 */
async function uploadAll(nook: Nook, dir: string, files: Map<string, { mime: string }>): Promise<void> {
  const queue = [...files.entries()];
  const tus = { 'tus-resumable': '1.0.0', authorization: `Bearer ${nook.token}` };
  const lane = async () => {
    for (let next = queue.shift(); next; next = queue.shift()) {
      const [name, { mime }] = next;
      const data = await readFile(path.join(dir, name));
      const meta = (value: string) => Buffer.from(value).toString('base64');
      const created = await fetch(`${nook.url}/api/uploads`, {
        method: 'POST',
        headers: {
          ...tus,
          'upload-length': String(data.length),
          'upload-metadata': `filename ${meta(name)},filetype ${meta(mime)}`,
        },
      });
      if (created.status !== 201)
        throw new Error(`creating upload ${name}: HTTP ${created.status} ${await created.text()}`);
      const patched = await fetch(`${nook.url}${created.headers.get('location')!}`, {
        method: 'PATCH',
        body: data,
        headers: { ...tus, 'content-type': 'application/offset+octet-stream', 'upload-offset': '0' },
      });
      if (patched.status !== 204)
        throw new Error(`upload ${name}: HTTP ${patched.status} ${await patched.text()}`);
    }
  };
  await Promise.all([lane(), lane()]);
}

interface Scenario {
  files: number;
  done: number;
  seconds: number;
  filesPerSecond: number;
  ratio: number;
}

interface SetResult {
  name: string;
  files: number;
  mix: Partial<Record<Kind, number>>;
  /** Files/s the media work alone allows for this set (per-file limits, weighted). */
  limit: number;
  folderAdded: Scenario;
  folderFirstThumbnailSeconds: number;
  /** From the first upload sent to every thumbnail: uploads and processing overlap, as they do for people. */
  uploaded: Scenario;
  uploadSeconds: number;
  /** After the last upload was answered, until every thumbnail was on disk. */
  drainedSeconds: number;
}

async function main(): Promise<void> {
  const work = path.join(repoRoot, 'bench/work', `pipeline-${process.pid}`);
  await rm(work, { recursive: true, force: true });
  await mkdir(work, { recursive: true });
  await chmod(work, 0o755);
  const loadBefore = await loadAverage();
  const cgroup = pi ? await piCgroup() : null;
  let nook: Nook | undefined;
  try {
    process.stderr.write(`making ${count} × 12 MP JPEGs and a mixed set of ${mixedCount}…\n`);
    const jpeg: Sample = {
      kind: 'jpeg',
      file: path.join(work, 'sample.jpg'),
      extension: 'jpg',
      mime: 'image/jpeg',
      base: await photo(4032, 3024),
    };
    await writeFile(jpeg.file, jpeg.base);
    const samples: Sample[] = [jpeg];
    if (mixedCount > 0) {
      const heicFile = path.join(work, 'sample.heic');
      await heic(await photo(4032, 3024), heicFile);
      const videoFile = path.join(work, 'sample.mp4');
      await video(videoFile, { codec: 'hevc', width: 3840, height: 2160, seconds: 3, keyframeSeconds: 1 });
      samples.push(
        {
          kind: 'heic',
          file: heicFile,
          extension: 'heic',
          mime: 'image/heic',
          base: await readFile(heicFile),
        },
        {
          kind: 'video',
          file: videoFile,
          extension: 'mp4',
          mime: 'video/mp4',
          base: await readFile(videoFile),
        },
      );
    }
    const sets = [
      { name: 'jpeg', files: count, samples: [jpeg], mix: { jpeg: 1 } },
      ...(mixedCount > 0 ? [{ name: 'mixed', files: mixedCount, samples, mix: MIX }] : []),
    ].map((set) => ({
      ...set,
      folderDir: path.join(work, `folder-${set.name}`),
      uploadDir: path.join(work, `uploads-${set.name}`),
    }));
    const written = new Map<
      string,
      { folder: Awaited<ReturnType<typeof writeSet>>; uploads: Awaited<ReturnType<typeof writeSet>> }
    >();
    for (const set of sets)
      written.set(set.name, {
        folder: await writeSet(set.folderDir, set.samples, set.files, set.mix, `${set.name}-folder`),
        uploads: await writeSet(set.uploadDir, set.samples, set.files, set.mix, `${set.name}-upload`),
      });
    await run('sync');

    process.stderr.write(`per-file limits (media bench, ${cores} core${cores === 1 ? '' : 's'})…\n`);
    // One after the other: each measurement takes every core it is given.
    const measureLimits = async () => {
      const rates: Partial<Record<Kind, number>> = {};
      for (const sample of samples)
        rates[sample.kind] = await perFileLimit(cgroup, sample, sample.kind === 'jpeg' ? 8 : 6);
      return rates as Record<Kind, number>;
    };
    const ratesBefore = await measureLimits();

    const dataDirPath = path.join(work, 'data');
    nook = await startNook(dataDirPath, work, cgroup);
    const dataDir = new DataDir(dataDirPath, [work]);
    const deadline = () => Date.now() + timeoutMs;
    const timings: {
      name: string;
      folder: { done: number; seconds: number; firstSeconds: number };
      upload: { done: number; seconds: number; uploadSeconds: number; drainedSeconds: number };
    }[] = [];
    for (const set of sets) {
      const { folder, uploads } = written.get(set.name)!;
      process.stderr.write(`${set.name}: folder library…\n`);
      const folderStart = performance.now();
      await trpc(nook, 'libraries.create', { name: `Bench ${set.name}`, rootPath: set.folderDir });
      const folderDone = await allDerived(
        dataDir,
        [...folder.values()].map((file) => file.sha256),
        deadline(),
      );
      process.stderr.write(`${set.name}: uploads…\n`);
      const uploadStart = performance.now();
      await uploadAll(nook, set.uploadDir, uploads);
      const uploadEnd = performance.now();
      const uploadDone = await allDerived(
        dataDir,
        [...uploads.values()].map((file) => file.sha256),
        deadline(),
      );
      timings.push({
        name: set.name,
        folder: {
          done: folderDone.done,
          seconds: (folderDone.at - folderStart) / 1000,
          firstSeconds: (folderDone.firstAt - folderStart) / 1000,
        },
        upload: {
          done: uploadDone.done,
          seconds: (uploadDone.at - uploadStart) / 1000,
          uploadSeconds: (uploadEnd - uploadStart) / 1000,
          drainedSeconds: (uploadDone.at - uploadEnd) / 1000,
        },
      });
    }

    // Nothing left to do: the appliance should sit still once the workers' 30 s of quick polling after work is over.
    await new Promise((resolve) => setTimeout(resolve, 40_000));
    // Two of every minute-long timer (idle polls, cron checks, heartbeats); pg-boss maintenance (5 min) aside.
    const idleSeconds = 120;
    const cpuBefore = await treeCpuSeconds(nook.process.pid!);
    await new Promise((resolve) => setTimeout(resolve, idleSeconds * 1000));
    const idleCpuPercent =
      (cpuBetween(cpuBefore, await treeCpuSeconds(nook.process.pid!)) / idleSeconds) * 100;
    const peakBytes = await peakMemoryBytes(cgroup);
    await nook.stop();
    nook = undefined;

    const ratesAfter = await measureLimits();
    const round = (value: number, places = 2) => Math.round(value * 10 ** places) / 10 ** places;
    const rates = Object.fromEntries(
      samples.map((sample) => [
        sample.kind,
        {
          before: round(ratesBefore[sample.kind]),
          after: round(ratesAfter[sample.kind]),
          mean: round((ratesBefore[sample.kind] + ratesAfter[sample.kind]) / 2),
        },
      ]),
    ) as Record<Kind, { before: number; after: number; mean: number }>;
    const meanRates = Object.fromEntries(Object.entries(rates).map(([kind, rate]) => [kind, rate.mean]));
    const scenario = (files: number, done: number, seconds: number, limit: number): Scenario => ({
      files,
      done,
      seconds: round(seconds, 1),
      filesPerSecond: round(done / seconds),
      ratio: round(done / seconds / limit),
    });
    const setResults: SetResult[] = sets.map((set) => {
      const timing = timings.find((entry) => entry.name === set.name)!;
      const limit = setLimit(meanRates, set.mix);
      return {
        name: set.name,
        files: set.files,
        mix: set.mix,
        limit: round(limit),
        folderAdded: scenario(set.files, timing.folder.done, timing.folder.seconds, limit),
        folderFirstThumbnailSeconds: round(timing.folder.firstSeconds, 1),
        uploaded: scenario(set.files, timing.upload.done, timing.upload.seconds, limit),
        uploadSeconds: round(timing.upload.uploadSeconds, 1),
        drainedSeconds: round(timing.upload.drainedSeconds, 1),
      };
    });
    const aim = 0.8;
    const report = {
      startedAt: new Date().toISOString(),
      label: args.label,
      profile: pi
        ? { name: 'pi', cpus: 'taskset -c 0', memoryLimitBytes: PI_MEMORY_BYTES, cgroup }
        : { name: 'all cores' },
      machine: {
        cpu: os.cpus()[0]?.model,
        cores: os.availableParallelism(),
        coresUsed: cores,
        node: process.version,
      },
      loadAverage: { before: loadBefore, after: await loadAverage() },
      perFileLimit: rates,
      sets: setResults,
      idleCpuPercentOfOneCore: round(idleCpuPercent),
      peakMemoryBytes: peakBytes,
      aim,
    };
    const met = (s: Scenario) => (s.done === s.files && s.ratio >= aim ? 'yes' : '**no**');
    const row = (label: string, s: Scenario) =>
      `| ${label} | ${s.done} / ${s.files} | ${s.seconds} | ${s.filesPerSecond} | ${s.ratio.toFixed(2)}× | ${met(s)} |`;
    const kindNames: Record<Kind, string> = {
      jpeg: '12 MP JPEG (thumbnail + preview + thumbhash)',
      heic: '12 MP HEIC (thumbnail + preview + thumbhash)',
      video: '3 s 4K HEVC video (poster)',
    };
    const markdown = [
      `# Pipeline bench — ${report.startedAt}${report.label ? ` (${report.label})` : ''}`,
      '',
      `Through \`nook start\` until every thumbnail and preview is on disk; ${
        pi
          ? 'Pi profile: Nook, its PostgreSQL and the per-file limit on one core (taskset -c 0) in a 1 GB memory cgroup'
          : `all ${cores} cores`
      }. ${report.machine.cores} × ${report.machine.cpu}, Node ${report.machine.node}.`,
      '',
      `Per-file limits (media bench, Nook's own code, ${cores} core${cores === 1 ? '' : 's'} busy; mean of before and after the pipeline runs):`,
      '',
      ...samples.map(
        (sample) =>
          `- ${kindNames[sample.kind]}: ${rates[sample.kind].mean}/s (${rates[sample.kind].before} before, ${rates[sample.kind].after} after)`,
      ),
      '',
      '| Set, from | Files ready | Seconds | Files/s | Ratio to the limit | ≥ 0.8× |',
      '| --- | ---: | ---: | ---: | ---: | --- |',
      ...setResults.flatMap((set) => [
        row(
          `${set.name} (limit ${set.limit}/s): folder added (first thumbnail after ${set.folderFirstThumbnailSeconds} s)`,
          set.folderAdded,
        ),
        row(
          `${set.name}: uploaded with tus, two at a time (uploads took ${set.uploadSeconds} s; all ready ${set.drainedSeconds} s after the last)`,
          set.uploaded,
        ),
      ]),
      '',
      ...(mixedCount > 0
        ? [
            `Mixed set: ${Object.entries(MIX)
              .map(([kind, share]) => `${Math.round(share * 100)} % ${kind}`)
              .join(', ')}; its limit is the weighted harmonic mean of the per-file limits.`,
          ]
        : []),
      `Idle afterwards: ${report.idleCpuPercentOfOneCore} % of one core (Nook and its PostgreSQL, over ${idleSeconds} s, 40 s after the last thumbnail).`,
      ...(peakBytes
        ? [`Peak memory of everything in the cgroup: ${Math.round(peakBytes / 1024 ** 2)} MB of 1024.`]
        : []),
      `Load average (1, 5, 15 min) before ${loadBefore.join(', ')}; after ${report.loadAverage.after.join(', ')}.`,
      '',
    ].join('\n');
    await mkdir(results, { recursive: true });
    const stem = `pipeline-${report.label || (pi ? 'pi' : 'latest')}`;
    await writeFile(path.join(results, `${stem}.json`), `${JSON.stringify(report, null, 2)}\n`);
    await writeFile(path.join(results, `${stem}.md`), markdown);
    process.stdout.write(markdown);
  } finally {
    await nook?.stop();
    await rm(work, { recursive: true, force: true });
    // Empty once every process in it has exited; a cgroup is removed with rmdir, not by deleting files.
    if (cgroup) await rmdir(cgroup).catch(() => {});
  }
}

await main();
