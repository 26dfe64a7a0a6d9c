// `node --import tsx bench/pipeline/run.ts [--count N]`: files/s from "folder added" and from "upload finished"
// to "every thumbnail on disk" through the real `nook start`, beside the media bench's per-image limit.
import { execFile } from 'node:child_process';
import { createHash, randomBytes } from 'node:crypto';
import { access, chmod, mkdir, readdir, readFile, rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs, promisify } from 'node:util';
import { DataDir } from '@nook/core';
import { photo } from '../../test/media-files';
import type { Measurement, Task } from '../media/measure';
import { freePort, startChild, waitForHttp, type Child } from '../proc';

const run = promisify(execFile);
const benchDir = path.dirname(fileURLToPath(import.meta.url));
const repoRoot = path.resolve(benchDir, '../..');
const results = path.join(repoRoot, 'bench/results');
const cores = os.availableParallelism();

const { values: args } = parseArgs({
  options: {
    count: { type: 'string', default: process.env.NOOK_BENCH_PIPELINE_COUNT ?? '1000' },
    // A run that cannot finish (the old 10 s polling) still reports how far it got.
    'timeout-minutes': { type: 'string', default: '30' },
    label: { type: 'string', default: '' },
  },
});
const count = Number(args.count);
const timeoutMs = Number(args['timeout-minutes']) * 60_000;
if (!Number.isInteger(count) || count < 1)
  throw new Error(`--count must be a positive integer, got ${args.count}`);

/** One 12 MP photo; every copy gets its own comment segment, so each has its own SHA-256 but decodes alike. */
function variant(base: Buffer, label: string): Buffer {
  const text = Buffer.from(`nook bench ${label}`);
  const segment = Buffer.alloc(4 + text.length);
  segment.writeUInt16BE(0xfffe, 0);
  segment.writeUInt16BE(2 + text.length, 2);
  text.copy(segment, 4);
  return Buffer.concat([base.subarray(0, 2), segment, base.subarray(2)]);
}

const sha256 = (data: Buffer) => createHash('sha256').update(data).digest('hex');

async function writeSet(dir: string, base: Buffer, prefix: string): Promise<Map<string, string>> {
  await mkdir(dir, { recursive: true });
  const files = new Map<string, string>();
  for (let i = 0; i < count; i++) {
    const data = variant(base, `${prefix}-${i}-${randomBytes(4).toString('hex')}`);
    const name = `${prefix}-${String(i).padStart(5, '0')}.jpg`;
    await writeFile(path.join(dir, name), data);
    files.set(name, sha256(data));
  }
  return files;
}

/** The media bench's "Nook thumbnail + preview + thumbhash, all cores" row, in a process of its own. */
async function perImageLimit(file: string, seconds: number): Promise<Measurement> {
  const task: Task = { method: 'nook', file, parallel: cores, vipsThreads: 0, seconds };
  const { stdout } = await run(
    process.execPath,
    ['--import', 'tsx', path.join(repoRoot, 'bench/media/measure.ts'), JSON.stringify(task)],
    { cwd: repoRoot, maxBuffer: 1024 * 1024 },
  );
  return JSON.parse(stdout) as Measurement;
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

async function startNook(dataDir: string, libraryRoot: string): Promise<Nook> {
  await mkdir(dataDir, { recursive: true });
  await chmod(dataDir, 0o755);
  const port = await freePort();
  const child = startChild('nook', process.execPath, [path.join(repoRoot, 'apps/cli/bin/nook.js'), 'start'], {
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

/** `POST /api/assets`, one file per request, two requests in flight (as `nook upload` does on two cores). */
async function uploadAll(nook: Nook, dir: string, names: string[]): Promise<void> {
  let next = 0;
  const lane = async () => {
    while (next < names.length) {
      const name = names[next++]!;
      const form = new FormData();
      form.append('file', new Blob([await readFile(path.join(dir, name))], { type: 'image/jpeg' }), name);
      const response = await fetch(`${nook.url}/api/assets`, {
        method: 'POST',
        body: form,
        headers: { authorization: `Bearer ${nook.token}` },
      });
      if (response.status !== 201)
        throw new Error(`upload ${name}: HTTP ${response.status} ${await response.text()}`);
      await response.arrayBuffer();
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

async function main(): Promise<void> {
  const work = path.join(repoRoot, 'bench/work', `pipeline-${process.pid}`);
  await rm(work, { recursive: true, force: true });
  await mkdir(work, { recursive: true });
  await chmod(work, 0o755);
  const loadBefore = await loadAverage();
  let nook: Nook | undefined;
  try {
    process.stderr.write(`making ${count} × 12 MP JPEGs…\n`);
    const base = await photo(4032, 3024);
    const sample = path.join(work, 'sample.jpg');
    await writeFile(sample, base);
    const folder = await writeSet(path.join(work, 'folder'), base, 'folder');
    const uploads = await writeSet(path.join(work, 'uploads'), base, 'upload');
    await run('sync');

    process.stderr.write('per-image limit (media bench, all cores)…\n');
    const limitBefore = await perImageLimit(sample, 8);

    const dataDirPath = path.join(work, 'data');
    nook = await startNook(dataDirPath, work);
    const dataDir = new DataDir(dataDirPath, [work]);
    const deadline = () => Date.now() + timeoutMs;

    process.stderr.write('folder library…\n');
    const folderStart = performance.now();
    await trpc(nook, 'libraries.create', { name: 'Bench', rootPath: path.join(work, 'folder') });
    const folderDone = await allDerived(dataDir, folder.values(), deadline());
    const folderSeconds = (folderDone.at - folderStart) / 1000;

    process.stderr.write('uploads…\n');
    const uploadStart = performance.now();
    await uploadAll(nook, path.join(work, 'uploads'), [...uploads.keys()]);
    const uploadEnd = performance.now();
    const uploadDone = await allDerived(dataDir, uploads.values(), deadline());

    // Nothing left to do: the appliance should sit still once the workers' 30 s of quick polling after work is over.
    await new Promise((resolve) => setTimeout(resolve, 40_000));
    const idleSeconds = 20;
    const cpuBefore = await treeCpuSeconds(nook.process.pid!);
    await new Promise((resolve) => setTimeout(resolve, idleSeconds * 1000));
    const idleCpuPercent =
      (cpuBetween(cpuBefore, await treeCpuSeconds(nook.process.pid!)) / idleSeconds) * 100;
    await nook.stop();
    nook = undefined;

    const limitAfter = await perImageLimit(sample, 8);
    const limit = (limitBefore.perSecond + limitAfter.perSecond) / 2;
    const scenario = (done: number, seconds: number): Scenario => ({
      files: count,
      done,
      seconds: Math.round(seconds * 10) / 10,
      filesPerSecond: Math.round((done / seconds) * 100) / 100,
      ratio: Math.round((done / seconds / limit) * 100) / 100,
    });
    const report = {
      startedAt: new Date().toISOString(),
      label: args.label,
      machine: { cpu: os.cpus()[0]?.model, cores, node: process.version },
      loadAverage: { before: loadBefore, after: await loadAverage() },
      count,
      fileBytes: base.length,
      perImageLimit: {
        before: Math.round(limitBefore.perSecond * 100) / 100,
        after: Math.round(limitAfter.perSecond * 100) / 100,
        mean: Math.round(limit * 100) / 100,
      },
      folderAdded: scenario(folderDone.done, folderSeconds),
      folderFirstThumbnailSeconds: Math.round(((folderDone.firstAt - folderStart) / 1000) * 10) / 10,
      uploadFinished: scenario(uploadDone.done, (uploadDone.at - uploadEnd) / 1000),
      uploadStarted: scenario(uploadDone.done, (uploadDone.at - uploadStart) / 1000),
      uploadSeconds: Math.round(((uploadEnd - uploadStart) / 1000) * 10) / 10,
      idleCpuPercentOfOneCore: Math.round(idleCpuPercent * 100) / 100,
      aim: 0.8,
    };
    const row = (label: string, s: Scenario) =>
      `| ${label} | ${s.done} / ${s.files} | ${s.seconds} | ${s.filesPerSecond} | ${s.ratio.toFixed(2)}× | ${s.done === s.files && s.ratio >= report.aim ? 'yes' : '**no**'} |`;
    const markdown = [
      `# Pipeline bench — ${report.startedAt}${report.label ? ` (${report.label})` : ''}`,
      '',
      `${count} × 12 MP JPEG (${(base.length / 1e6).toFixed(1)} MB each) through \`nook start\`, until every thumbnail and preview is on disk. ` +
        `${report.machine.cores} × ${report.machine.cpu}, Node ${report.machine.node}.`,
      '',
      `Per-image limit (media bench, Nook thumbnail + preview + thumbhash, all cores): ${report.perImageLimit.mean}/s ` +
        `(${report.perImageLimit.before}/s before the pipeline runs, ${report.perImageLimit.after}/s after).`,
      '',
      '| From | Files ready | Seconds | Files/s | Ratio to the limit | ≥ 0.8× |',
      '| --- | ---: | ---: | ---: | ---: | --- |',
      row(`folder added (first thumbnail after ${report.folderFirstThumbnailSeconds} s)`, report.folderAdded),
      row('upload finished', report.uploadFinished),
      row(`upload started (uploads took ${report.uploadSeconds} s)`, report.uploadStarted),
      '',
      `Idle afterwards: ${report.idleCpuPercentOfOneCore} % of one core (Nook and its PostgreSQL, over ${idleSeconds} s).`,
      `Load average (1, 5, 15 min) before ${loadBefore.join(', ')}; after ${report.loadAverage.after.join(', ')}.`,
      '',
    ].join('\n');
    await mkdir(results, { recursive: true });
    const stem = report.label ? `pipeline-${report.label}` : 'pipeline-latest';
    await writeFile(path.join(results, `${stem}.json`), `${JSON.stringify(report, null, 2)}\n`);
    await writeFile(path.join(results, `${stem}.md`), markdown);
    process.stdout.write(markdown);
  } finally {
    await nook?.stop();
    await rm(work, { recursive: true, force: true });
  }
}

await main();
