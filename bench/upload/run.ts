// `npm run bench:upload`: a large file via tus and via multipart against bare Node's stream-to-disk, and
// many small files through `nook upload`.
import { execFileSync, spawn, spawnSync } from 'node:child_process';
import { createReadStream } from 'node:fs';
import { mkdir, rename, rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import * as tus from 'tus-js-client';
import { upload } from '../client';
import { writeTestFile, type TestFile } from '../data';
import { startNook } from '../nook';
import { freePort, positiveIntegerEnv, startChild, waitForHttp, type Child } from '../proc';
import { mbPerSecond, summarize, type Figures, type Scenario } from '../report';

const benchDir = path.dirname(path.dirname(fileURLToPath(import.meta.url)));
const repoRoot = path.dirname(benchDir);
const MiB = 1024 * 1024;

const fileBytes = positiveIntegerEnv('NOOK_BENCH_UPLOAD_MB', 2048) * MiB;
const runs = positiveIntegerEnv('NOOK_BENCH_RUNS', 2);
const smallFiles = positiveIntegerEnv('NOOK_BENCH_SMALL_FILES', 10_000);

const loadAverage = () => os.loadavg().map((value) => Number(value.toFixed(2)));

function gitCommit(): string {
  try {
    return execFileSync('git', ['rev-parse', '--short', 'HEAD'], { cwd: repoRoot, encoding: 'utf8' }).trim();
  } catch {
    return 'unknown';
  }
}

/** One tus upload of `file` with tus-js-client, as Uppy or the `nook` CLI would send it. */
async function tusUpload(
  url: string,
  file: TestFile,
  headers: Record<string, string>,
  chunkSize: number,
): Promise<number> {
  const started = process.hrtime.bigint();
  const sha256 = await new Promise<string>((resolve, reject) => {
    const upload = new tus.Upload(createReadStream(file.path), {
      endpoint: `${url}/api/uploads`,
      chunkSize,
      headers,
      retryDelays: null,
      metadata: { filename: path.basename(file.path) },
      onError: reject,
      onSuccess: ({ lastResponse }) => resolve(lastResponse.getHeader('nook-asset-sha256') ?? ''),
    });
    upload.start();
  });
  const seconds = Number(process.hrtime.bigint() - started) / 1e9;
  if (sha256 !== file.sha256) throw new Error(`tus stored ${sha256} for ${file.path} (${file.sha256})`);
  return seconds;
}

/** Small files in a few folders, 1–32 KB (photos' sidecars, documents, thumbnails of other apps). */
async function writeSmallTree(root: string, count: number): Promise<number> {
  let bytes = 0;
  for (let i = 0; i < count; i++) {
    const dir = path.join(root, `folder-${i % 50}`);
    if (i < 50) await mkdir(dir, { recursive: true });
    const size = 1000 + ((i * 7919) % 31_000);
    const data = Buffer.alloc(size, i % 251);
    data.write(`small file ${i} of the upload bench`, 0);
    await writeFile(path.join(dir, `file-${i}.bin`), data);
    bytes += size;
  }
  return bytes;
}

function runCli(args: string[], env: NodeJS.ProcessEnv): Promise<{ seconds: number; stdout: string }> {
  const started = process.hrtime.bigint();
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [path.join(repoRoot, 'apps/cli/bin/nook.js'), ...args], {
      env,
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (chunk: Buffer) => (stdout += chunk.toString()));
    child.stderr.on('data', (chunk: Buffer) => (stderr += chunk.toString()));
    child.on('exit', (code) => {
      const seconds = Number(process.hrtime.bigint() - started) / 1e9;
      if (code === 0) resolve({ seconds, stdout });
      else reject(new Error(`nook ${args.join(' ')} exited with ${code}:\n${stdout}\n${stderr}`));
    });
  });
}

function toMarkdown(report: {
  startedAt: string;
  loadAverage: { before: number[]; after: number[] };
  fileBytes: number;
  runs: number;
  scenarios: Figures[];
  small: { files: number; bytes: number; seconds: number; filesPerSecond: number; secondRunSeconds: number };
  machine: Record<string, string | number>;
}): string {
  const lines = [
    `# Upload bench (${report.startedAt})`,
    '',
    `Machine: ${report.machine.cpu}, ${report.machine.cores} cores, Node ${report.machine.node}, commit ${report.machine.commit}.`,
    `Load average (1, 5, 15 min) before: ${report.loadAverage.before.join(', ')}; after: ${report.loadAverage.after.join(', ')} — other work shared the machine, so absolute figures are low and noisy.`,
    '',
    `## One ${report.fileBytes / MiB} MiB file (${report.runs} runs, MB = 10^6 B)`,
    '',
    '| Scenario | Median MB/s | Min | Max | Ratio to its reference (medians) | Aim | Met | Ratio to bare Node without fsync |',
    '| --- | ---: | ---: | ---: | --- | --- | --- | --- |',
    ...report.scenarios.map((s) => {
      const plain = report.scenarios.find((other) => other.id === 'bare')!.medianMBps;
      const ratio =
        s.ratio === undefined
          ? 'reference'
          : `${s.ratio.toFixed(2)}× ${s.reference === 'bare' ? 'bare' : 'bare + fsync'}`;
      const aim = s.aim === undefined ? '—' : `≥ ${s.aim.toFixed(2)}×`;
      const met = s.aimMet === undefined ? '—' : s.aimMet ? 'yes' : '**no**';
      return `| ${s.label} | ${s.medianMBps.toFixed(0)} | ${s.minMBps.toFixed(0)} | ${s.maxMBps.toFixed(0)} | ${ratio} | ${aim} | ${met} | ${(s.medianMBps / plain).toFixed(2)}× |`;
    }),
    '',
    `## ${report.small.files} small files via \`nook upload\``,
    '',
    `${report.small.files} files, ${(report.small.bytes / 1e6).toFixed(1)} MB: ${report.small.seconds.toFixed(1)} s, **${report.small.filesPerSecond.toFixed(0)} files/s** (hashing, pre-check, multipart batches of up to 32 files, 4 in parallel; the process start-up is included). A second run over the same tree, all duplicates: ${report.small.secondRunSeconds.toFixed(1)} s.`,
    '',
  ];
  return lines.join('\n');
}

async function main(): Promise<void> {
  const startedAt = new Date().toISOString();
  const before = loadAverage();
  const workDir = path.join(benchDir, 'work', `upload-${startedAt.replace(/[:.]/g, '-')}`);
  const filesDir = path.join(workDir, 'files');
  const bareUploads = path.join(workDir, 'bare-uploads');
  await mkdir(filesDir, { recursive: true });
  await mkdir(bareUploads, { recursive: true });
  const children: Child[] = [];
  try {
    const nook = await startNook(repoRoot, path.join(workDir, 'nook-data'), await freePort());
    children.push(nook);
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
          BENCH_SERVED_FILE: '',
        },
      },
    );
    children.push(bare);
    await waitForHttp(`http://127.0.0.1:${barePort}/health`, bare.process, 20_000);

    const bareScenario: Scenario = {
      id: 'bare',
      label: 'bare Node: stream to disk + SHA-256 (multipart body)',
      samplesMBps: [],
    };
    // A finished tus upload is on disk before it is answered (fdatasync); its like is a receiver that does
    // the same. Multipart uploads are answered without it, like the plain bare receiver.
    const durableScenario: Scenario = {
      id: 'bare-fsync',
      label: 'bare Node: the same, fdatasync before answering',
      samplesMBps: [],
    };
    const scenarios: Scenario[] = [
      bareScenario,
      durableScenario,
      { id: 'multipart', label: 'Nook `POST /api/assets` (multipart)', reference: 'bare', samplesMBps: [] },
      {
        id: 'tus-64m',
        label: 'Nook tus, 64 MiB chunks (the `nook` CLI)',
        reference: 'bare-fsync',
        aim: 0.85,
        samplesMBps: [],
      },
      {
        id: 'tus-whole',
        label: 'Nook tus, one PATCH (tus-js-client default)',
        reference: 'bare-fsync',
        aim: 0.85,
        samplesMBps: [],
      },
    ];
    const byId = (id: string) => scenarios.find((s) => s.id === id)!;
    const measure = async (id: string, file: TestFile) => {
      spawnSync('sync', ['-f', workDir]);
      console.error(`${byId(id).label}: ${path.basename(file.path)}`);
      let seconds: number;
      if (id === 'bare' || id === 'bare-fsync' || id === 'multipart') {
        const url =
          id === 'multipart'
            ? `${nook.url}/api/assets`
            : `http://127.0.0.1:${barePort}/upload${id === 'bare-fsync' ? '?fsync=1' : ''}`;
        const timed = await upload(url, file, id === 'multipart' ? nook.authHeaders : {});
        if (timed.result.status !== 201)
          throw new Error(`${id}: HTTP ${timed.result.status} ${timed.result.body}`);
        seconds = timed.seconds;
      } else {
        seconds = await tusUpload(nook.url, file, nook.authHeaders, id === 'tus-64m' ? 64 * MiB : Infinity);
      }
      byId(id).samplesMBps.push(mbPerSecond(file.size, seconds));
    };

    for (let run = 0; run < runs; run++) {
      // Each Nook upload needs content of its own (the same bytes twice would be a duplicate); one file per
      // contender, removed once measured so the disk holds at most a run's worth.
      const order = scenarios.map((s) => s.id);
      const rotatedOrder = [...order.slice(run % order.length), ...order.slice(0, run % order.length)];
      for (const id of rotatedOrder) {
        const file = await writeTestFile(
          path.join(filesDir, `${id}-${run}.bin`),
          fileBytes,
          `${startedAt}:${id}:${run}`,
        );
        await measure(id, file);
        await rm(file.path, { force: true });
      }
    }

    // Many small files through the real client.
    const tree = path.join(workDir, 'small');
    const smallBytes = await writeSmallTree(tree, smallFiles);
    const cliEnv: NodeJS.ProcessEnv = {
      ...process.env,
      NOOK_SERVER: nook.url,
      NOOK_TOKEN: nook.authHeaders.authorization!.replace('Bearer ', ''),
      XDG_STATE_HOME: path.join(workDir, 'client-state'),
    };
    console.error(`nook upload: ${smallFiles} small files`);
    const first = await runCli(['upload', tree], cliEnv);
    if (!first.stdout.includes(`Uploaded:   ${smallFiles} `))
      throw new Error(`nook upload said:\n${first.stdout}`);
    const second = await runCli(['upload', tree], cliEnv);
    if (!second.stdout.includes(`Duplicates: ${smallFiles} `))
      throw new Error(`nook upload said:\n${second.stdout}`);

    const report = {
      startedAt,
      unit: 'MB = 10^6 bytes',
      loadAverage: { before, after: loadAverage() },
      fileBytes,
      runs,
      machine: {
        cpu: os.cpus()[0]?.model ?? 'unknown',
        cores: os.availableParallelism(),
        memoryGiB: Math.round(os.totalmem() / 1024 ** 3),
        node: process.version,
        commit: gitCommit(),
      },
      notes: [
        'Large file: every contender gets fresh content of the same size, streamed from disk over loopback; the disk is synced before each upload; timing ends when the server has answered (Nook: after hashing, dedup check, linking into the library and recording the asset).',
        'tus: tus-js-client 4 in Node with an fs.ReadStream, as the nook CLI sends it.',
        'Contenders rotate their order each run; ratios compare medians. tus is compared with a bare receiver that also fdatasyncs before answering, as Nook does for a finished tus upload; multipart with one that does not, as Nook does not.',
      ],
      scenarios: summarize(scenarios),
      small: {
        files: smallFiles,
        bytes: smallBytes,
        seconds: first.seconds,
        filesPerSecond: smallFiles / first.seconds,
        secondRunSeconds: second.seconds,
      },
    };
    const markdown = toMarkdown(report);
    const resultsDir = path.join(benchDir, 'results');
    for (const [name, content] of [
      ['upload-latest.json', `${JSON.stringify(report, null, 2)}\n`],
      ['upload-latest.md', markdown],
    ] as const) {
      await writeFile(path.join(resultsDir, `${name}.tmp`), content);
      await rename(path.join(resultsDir, `${name}.tmp`), path.join(resultsDir, name));
    }
    console.log(markdown);
  } finally {
    for (const child of children.reverse()) await child.stop();
    await rm(workDir, { recursive: true, force: true });
  }
}

await main();
