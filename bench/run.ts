// `npm run bench`: measures Nook's upload and download throughput against bare Node and nginx, side by side.
import { execFileSync, spawnSync } from 'node:child_process';
import { mkdir, rename, rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { download, upload } from './client';
import { writeTestFile, type TestFile } from './data';
import { nginxVersion, startNginx } from './nginx';
import { startNook } from './nook';
import { freePort, positiveIntegerEnv, startChild, waitForHttp, type Child } from './proc';
import { mbPerSecond, summarize, toMarkdown, type Report, type Scenario } from './report';

const benchDir = path.dirname(fileURLToPath(import.meta.url));
const repoRoot = path.dirname(benchDir);
const MiB = 1024 * 1024;

const fileBytes = positiveIntegerEnv('NOOK_BENCH_SIZE_MB', 1024) * MiB;
const runs = positiveIntegerEnv('NOOK_BENCH_RUNS', 3);

/**
 * Uploads leave up to a GiB of dirty pages behind; flushing them between measurements keeps one
 * contender's writeback from landing in the next one's timing.
 */
function flushToDisk(dir: string): void {
  spawnSync('sync', ['-f', dir]);
}

function gitCommit(): string {
  try {
    const commit = execFileSync('git', ['rev-parse', '--short', 'HEAD'], {
      cwd: repoRoot,
      encoding: 'utf8',
    }).trim();
    const dirty =
      execFileSync('git', ['status', '--porcelain'], { cwd: repoRoot, encoding: 'utf8' }).trim() !== '';
    return dirty ? `${commit} (with uncommitted changes)` : commit;
  } catch {
    return 'unknown';
  }
}

/** Rotates the starting contender each run so slow drifts of the machine do not favour one of them. */
function rotated<T>(items: T[], run: number): T[] {
  const shift = run % items.length;
  return [...items.slice(shift), ...items.slice(0, shift)];
}

interface UploadTarget {
  scenario: Scenario;
  url: string;
  headers: Record<string, string>;
  check(body: string, file: TestFile): void;
}

function checkNookUpload(body: string, file: TestFile): void {
  const [item] = JSON.parse(body) as { sha256: string; size: number; duplicate: boolean }[];
  if (item?.sha256 !== file.sha256 || item.size !== file.size || item.duplicate) {
    throw new Error(`Nook stored something else than ${file.path}: ${body}`);
  }
}

function checkBareUpload(body: string, file: TestFile): void {
  const { sha256, size } = JSON.parse(body) as { sha256: string; size: number };
  // The bare server hashes the whole multipart body, so compare sizes only; the bytes are Nook's to verify.
  if (size <= file.size)
    throw new Error(`the bare server received ${size} bytes for a ${file.size}-byte file (${sha256})`);
}

async function measureUpload(target: UploadTarget, file: TestFile, dir: string): Promise<string> {
  flushToDisk(dir);
  const { seconds, result } = await upload(target.url, file, target.headers);
  if (result.status !== 201)
    throw new Error(`${target.scenario.label}: HTTP ${result.status} ${result.body}`);
  target.check(result.body, file);
  target.scenario.samplesMBps.push(mbPerSecond(file.size, seconds));
  return result.body;
}

async function measureDownload(
  scenario: Scenario,
  url: string,
  size: number,
  headers: Record<string, string>,
): Promise<void> {
  const { seconds, result } = await download(url, headers);
  if (result.status !== 200 || result.bytes !== size) {
    throw new Error(`${scenario.label}: HTTP ${result.status}, ${result.bytes} of ${size} bytes`);
  }
  scenario.samplesMBps.push(mbPerSecond(size, seconds));
}

async function main(): Promise<void> {
  const startedAt = new Date().toISOString();
  const loadBefore = os
    .loadavg()
    .map((value) => value.toFixed(1))
    .join(' ');
  const workDir = path.join(benchDir, 'work', `run-${startedAt.replace(/[:.]/g, '-')}`);
  const filesDir = path.join(workDir, 'files');
  const bareUploads = path.join(workDir, 'bare-uploads');
  await mkdir(filesDir, { recursive: true });
  await mkdir(bareUploads, { recursive: true });
  const children: Child[] = [];
  try {
    console.error(`Writing ${runs} test file(s) of ${fileBytes / MiB} MiB in ${workDir}`);
    const files: TestFile[] = [];
    for (let run = 0; run < runs; run++) {
      files.push(
        await writeTestFile(path.join(filesDir, `file-${run}.bin`), fileBytes, `${startedAt}:${run}`),
      );
    }
    const warmUpFile = await writeTestFile(path.join(filesDir, 'warm-up.bin'), MiB, `${startedAt}:warm-up`);
    const served = files[0]!;

    console.error('Starting Nook, nginx and the bare Node server');
    const nook = await startNook(repoRoot, path.join(workDir, 'nook-data'), await freePort());
    children.push(nook);
    // The same Nook's data served by a second server process that leaves the bytes to nginx
    // (NOOK_ACCEL_REDIRECT), behind the bench's nginx as docs/reverse-proxy.md sets it up.
    const accelPort = await freePort();
    const accel = startChild(
      'nook serve (X-Accel-Redirect)',
      process.execPath,
      [path.join(repoRoot, 'apps/cli/bin/nook.js'), 'serve'],
      {
        cwd: repoRoot,
        env: {
          ...process.env,
          NOOK_DATA_DIR: path.join(workDir, 'nook-data'),
          NOOK_PORT: String(accelPort),
          NOOK_HOST: '127.0.0.1',
          NOOK_LOG_LEVEL: 'warn',
          NOOK_ACCEL_REDIRECT: '/internal-originals/',
        },
      },
    );
    children.push(accel);
    await waitForHttp(`http://127.0.0.1:${accelPort}/api/health`, accel.process, 60_000);
    const nginxPort = await freePort();
    children.push(
      await startNginx(path.join(workDir, 'nginx'), filesDir, nginxPort, `http://127.0.0.1:${accelPort}`),
    );
    const barePort = await freePort();
    const bare = startChild(
      'bare server',
      process.execPath,
      ['--import', 'tsx', path.join(benchDir, 'bare-server.ts')],
      {
        env: {
          ...process.env,
          BENCH_PORT: String(barePort),
          BENCH_UPLOAD_DIR: bareUploads,
          BENCH_SERVED_FILE: served.path,
        },
      },
    );
    children.push(bare);
    await waitForHttp(`http://127.0.0.1:${barePort}/health`, bare.process, 20_000);
    const bareUrl = `http://127.0.0.1:${barePort}`;

    const bareUpload: Scenario = {
      id: 'upload-bare',
      label: 'Upload: bare Node, stream to disk + SHA-256',
      samplesMBps: [],
    };
    const nookUpload: Scenario = {
      id: 'upload-nook',
      label: 'Upload: Nook `POST /api/assets`',
      reference: bareUpload.id,
      aim: 0.8,
      samplesMBps: [],
    };
    const uploadTargets: UploadTarget[] = [
      {
        scenario: nookUpload,
        url: `${nook.url}/api/assets`,
        headers: nook.authHeaders,
        check: checkNookUpload,
      },
      { scenario: bareUpload, url: `${bareUrl}/upload`, headers: {}, check: checkBareUpload },
    ];
    // One small upload each first, so one-time costs (JIT, the default user, lazy modules) stay out of the figures.
    for (const target of uploadTargets) await upload(target.url, warmUpFile, target.headers);

    let servedAssetId = '';
    for (let run = 0; run < runs; run++) {
      for (const target of rotated(uploadTargets, run)) {
        console.error(`Run ${run + 1}/${runs}: ${target.scenario.label}`);
        const body = await measureUpload(target, files[run]!, workDir);
        if (run === 0 && target === uploadTargets[0])
          servedAssetId = (JSON.parse(body) as { id: string }[])[0]!.id;
      }
    }
    flushToDisk(workDir);

    const nginxDownload: Scenario = {
      id: 'download-nginx',
      label: 'Download: nginx, sendfile',
      samplesMBps: [],
    };
    const downloads: [Scenario, string][] = [
      [nginxDownload, `http://127.0.0.1:${nginxPort}/${path.basename(served.path)}`],
      [
        {
          id: 'download-nook',
          label: 'Download: Nook `GET /api/assets/:id/original`',
          reference: nginxDownload.id,
          aim: 0.95,
          samplesMBps: [],
        },
        `${nook.url}/api/assets/${servedAssetId}/original`,
      ],
      [
        {
          id: 'download-nook-accel',
          label: 'Download: Nook behind nginx, `NOOK_ACCEL_REDIRECT` (nginx sends the file)',
          reference: nginxDownload.id,
          aim: 0.95,
          samplesMBps: [],
        },
        `http://127.0.0.1:${nginxPort}/api/assets/${servedAssetId}/original`,
      ],
      [
        {
          id: 'download-bare-1m',
          label: 'Download: bare Node, `createReadStream` 1 MiB chunks',
          reference: nginxDownload.id,
          samplesMBps: [],
        },
        `${bareUrl}/file?chunk=${MiB}`,
      ],
      [
        {
          id: 'download-bare-64k',
          label: 'Download: bare Node, `createReadStream` 64 KiB chunks (default)',
          reference: nginxDownload.id,
          samplesMBps: [],
        },
        `${bareUrl}/file?chunk=${64 * 1024}`,
      ],
    ];
    // The page cache is not dropped (that needs root and disturbs the whole machine): every contender reads
    // warm files instead, which the first, unmeasured download of each guarantees.
    // Nook needs credentials like any client; the others serve anybody.
    const headersFor = (url: string) => (url.includes('/api/') ? nook.authHeaders : {});
    for (const [scenario, url] of downloads)
      await measureDownload({ ...scenario, samplesMBps: [] }, url, served.size, headersFor(url));
    for (let run = 0; run < runs; run++) {
      for (const [scenario, url] of rotated(downloads, run)) {
        console.error(`Run ${run + 1}/${runs}: ${scenario.label}`);
        await measureDownload(scenario, url, served.size, headersFor(url));
      }
    }

    const report: Report = {
      startedAt,
      unit: 'MB = 10^6 bytes',
      fileBytes,
      runs,
      machine: {
        cpu: os.cpus()[0]?.model ?? 'unknown',
        cores: os.availableParallelism(),
        memoryGiB: Math.round(os.totalmem() / 1024 ** 3),
        kernel: os.release(),
        node: process.version,
        nginx: nginxVersion(),
        commit: gitCommit(),
      },
      notes: [
        'Uploads: the same client streams the same multipart body from disk; the disk is synced before each upload. Timing ends when the response (Nook: after the asset is recorded) has arrived.',
        'Downloads: curl into /dev/null, reading a file already in the page cache (each contender downloads it once, unmeasured, first).',
        'Contenders alternate within each run; the ratio compares medians.',
        `Load average (1, 5, 15 min) ${loadBefore} before, ${os
          .loadavg()
          .map((value) => value.toFixed(1))
          .join(' ')} after: other work on the machine widens the spread and moves the ratios.`,
      ],
      scenarios: summarize([nookUpload, bareUpload, ...downloads.map(([scenario]) => scenario)]),
    };
    const markdown = toMarkdown(report);
    await writeResults(report, markdown);
    console.log(markdown);
  } finally {
    for (const child of children.reverse()) await child.stop();
    await rm(workDir, { recursive: true, force: true });
  }
}

/** Writes via a temporary name so a crash never leaves a half-written latest.json behind. */
async function writeResults(report: Report, markdown: string): Promise<void> {
  const resultsDir = path.join(benchDir, 'results');
  await mkdir(resultsDir, { recursive: true });
  const json = `${JSON.stringify(report, null, 2)}\n`;
  const outputs: [string, string][] = [
    [`${report.startedAt.replace(/[:.]/g, '-')}.json`, json],
    ['latest.json', json],
    ['latest.md', markdown],
  ];
  for (const [name, content] of outputs) {
    const target = path.join(resultsDir, name);
    await writeFile(`${target}.tmp`, content);
    await rename(`${target}.tmp`, target);
  }
}

await main();
