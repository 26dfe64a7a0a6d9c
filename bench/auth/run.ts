// `npm run bench:auth`: a sign-in flood must not stall the server.
//
// Starts the real Nook (`nook start`), measures `/api/health` with nothing else going on, then again
// while 1,000 wrong sign-ins arrive at once the way an attacker sends them: unbatched against the
// account, unbatched against made-up names (each costs a decoy hash), and in batches of ten. First
// from one address (the aim: health p95 under 50 ms), then from 1,000 loopback addresses, where no
// per-address back-off helps and only the bounded password queue stands between the flood and the
// thread pool.
import { randomBytes } from 'node:crypto';
import http from 'node:http';
import { rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { Worker } from 'node:worker_threads';
import { startNook } from '../nook';
import { freePort } from '../proc';

const repoRoot = fileURLToPath(new URL('../..', import.meta.url));
const attempts = Number(process.env.NOOK_BENCH_ATTEMPTS ?? 1000);
/** Sign-in requests in flight at once, as many as a script opens sockets. */
const concurrency = Number(process.env.NOOK_BENCH_CONCURRENCY ?? 100);
const baselineMs = 5000;
const aimP95Ms = 50;
/** The same account the bench signed up as: the flood guesses its password. */
const victim = 'bench';

// The health prober runs on a thread of its own, so the flood's client work does not delay its
// timings; it asks every 10 ms over one kept-alive connection, like a monitor would.
const prober = `
const { parentPort, workerData } = require('node:worker_threads');
const http = require('node:http');
const agent = new http.Agent({ keepAlive: true, maxSockets: 1 });
const latencies = [];
let stopping = false;
parentPort.on('message', () => { stopping = true; });
function ask() {
  if (stopping) return parentPort.postMessage(latencies);
  const started = performance.now();
  http.get(workerData.url, { agent }, (response) => {
    response.resume();
    response.on('end', () => {
      if (response.statusCode === 200) latencies.push(performance.now() - started);
      setTimeout(ask, 10);
    });
  }).on('error', () => setTimeout(ask, 10));
}
ask();
`;

/** `/api/health` latencies in ms while `work` runs. */
async function probeDuring<T>(
  url: string,
  work: () => Promise<T>,
): Promise<{ latencies: number[]; result: T }> {
  const worker = new Worker(prober, { eval: true, workerData: { url: `${url}/api/health` } });
  const latencies = new Promise<number[]>((resolve) => worker.once('message', resolve));
  const result = await work();
  worker.postMessage('stop');
  const measured = await latencies;
  await worker.terminate();
  return { latencies: measured, result };
}

interface Call {
  /** Sign-in attempts in this request. */
  attempts: number;
  path: string;
  body: string;
}

/** 40% against the account, 40% against made-up names, 20% in batches of ten. */
function floodPlan(total: number): Call[] {
  const calls: Call[] = [];
  const login = (username: string) => ({ username, password: randomBytes(8).toString('hex') });
  const single = Math.round(total * 0.4);
  for (let i = 0; i < single; i++)
    calls.push({ attempts: 1, path: '/trpc/auth.login', body: JSON.stringify(login(victim)) });
  for (let i = 0; i < single; i++)
    calls.push({ attempts: 1, path: '/trpc/auth.login', body: JSON.stringify(login(`nobody${i}`)) });
  for (let left = total - 2 * single; left > 0; left -= 10) {
    const size = Math.min(10, left);
    const inputs = Object.fromEntries(
      Array.from({ length: size }, (_, i) => [i, login(i % 2 ? victim : `x${i}`)]),
    );
    calls.push({
      attempts: size,
      path: `/trpc/${Array(size).fill('auth.login').join(',')}?batch=1`,
      body: JSON.stringify(inputs),
    });
  }
  // Interleaved, as a tool cycling through its techniques would send them.
  return calls.sort(() => Math.random() - 0.5);
}

function post(base: URL, call: Call, localAddress: string, agent: http.Agent | false): Promise<number> {
  return new Promise((resolve) => {
    const request = http.request(
      {
        host: base.hostname,
        port: base.port,
        path: call.path,
        method: 'POST',
        localAddress,
        agent,
        headers: { 'content-type': 'application/json', origin: base.origin },
      },
      (response) => {
        response.resume();
        response.on('end', () => resolve(response.statusCode ?? 0));
      },
    );
    request.on('error', () => resolve(0));
    request.end(call.body);
  });
}

interface FloodResult {
  seconds: number;
  requests: number;
  attempts: number;
  /** Attempts by the HTTP status of the request that carried them (0: the connection failed). */
  attemptsByStatus: Record<string, number>;
}

/** Sends the whole plan, `concurrency` requests at a time, each from `addressOf(i)`. */
async function flood(
  url: string,
  addressOf: (i: number) => string,
  keepAlive: boolean,
  plan = floodPlan(attempts),
): Promise<FloodResult> {
  const base = new URL(url);
  const agent = keepAlive ? new http.Agent({ keepAlive: true, maxSockets: concurrency }) : false;
  const attemptsByStatus: Record<string, number> = {};
  let next = 0;
  const started = performance.now();
  await Promise.all(
    Array.from({ length: concurrency }, async () => {
      while (next < plan.length) {
        const i = next++;
        const status = await post(base, plan[i]!, addressOf(i), agent);
        attemptsByStatus[status] = (attemptsByStatus[status] ?? 0) + plan[i]!.attempts;
      }
    }),
  );
  if (agent) agent.destroy();
  return {
    seconds: (performance.now() - started) / 1000,
    requests: plan.length,
    attempts: plan.reduce((sum, call) => sum + call.attempts, 0),
    attemptsByStatus,
  };
}

function percentile(sorted: number[], p: number): number {
  return sorted[Math.min(sorted.length - 1, Math.ceil((p / 100) * sorted.length) - 1)]!;
}

function summarize(id: string, label: string, latencies: number[], aim: boolean) {
  const sorted = [...latencies].sort((a, b) => a - b);
  const round = (value: number) => Math.round(value * 10) / 10;
  const p95 = round(percentile(sorted, 95));
  return {
    id,
    label,
    samples: sorted.length,
    p50: round(percentile(sorted, 50)),
    p95,
    p99: round(percentile(sorted, 99)),
    max: round(sorted[sorted.length - 1]!),
    ...(aim && { aimP95Ms, aimMet: p95 < aimP95Ms }),
  };
}

const loadAverage = () =>
  os
    .loadavg()
    .map((value) => value.toFixed(1))
    .join(' ');

async function main(): Promise<void> {
  const dataDir = path.join(repoRoot, 'bench', 'work', `auth-${Date.now()}`);
  const nook = await startNook(repoRoot, dataDir, await freePort());
  try {
    const loadBefore = loadAverage();
    const baseline = await probeDuring(
      nook.url,
      () => new Promise((resolve) => setTimeout(resolve, baselineMs)),
    );
    // The same requests to a URL that only answers 404: what any flood of that size costs here.
    const reference = await probeDuring(nook.url, () =>
      flood(
        nook.url,
        () => '127.0.0.1',
        true,
        floodPlan(attempts).map((call) => ({ ...call, path: '/api/nothing' })),
      ),
    );
    const oneAddress = await probeDuring(nook.url, () => flood(nook.url, () => '127.0.0.1', true));
    // 127.1.x.y: a thousand addresses, none of them the one that flooded before.
    const manyAddresses = await probeDuring(nook.url, () =>
      flood(nook.url, (i) => `127.1.${Math.floor(i / 250)}.${(i % 250) + 1}`, false),
    );
    const loadAfter = loadAverage();

    const health = [
      summarize('baseline', 'no flood (baseline, same run)', baseline.latencies, false),
      summarize(
        'reference',
        'as many requests to a 404 URL (reference: any flood)',
        reference.latencies,
        false,
      ),
      summarize(
        'one-address',
        `${attempts.toLocaleString('en')} sign-ins from one address`,
        oneAddress.latencies,
        true,
      ),
      summarize(
        'many-addresses',
        `${attempts.toLocaleString('en')} sign-ins, each request from its own address`,
        manyAddresses.latencies,
        false,
      ),
    ];
    const floods = [
      { id: 'reference (404)', ...reference.result },
      { id: 'one-address', ...oneAddress.result },
      { id: 'many-addresses', ...manyAddresses.result },
    ];
    const report = {
      startedAt: new Date().toISOString(),
      machine: { cpu: os.cpus()[0]?.model, cores: os.cpus().length, node: process.version },
      loadAverage: { before: loadBefore, after: loadAfter },
      attempts,
      concurrency,
      health,
      floods,
    };
    const statuses = ['400', '401', '429', '503', '200', '404', '0'];
    const markdown = [
      `# Nook sign-in flood bench — ${report.startedAt}`,
      '',
      `\`/api/health\` asked every 10 ms over one kept-alive connection (its own thread) with nothing else going on, ` +
        `then while ${attempts.toLocaleString('en')} wrong sign-ins arrive, ${concurrency} requests at a time: ` +
        '40% unbatched against the account, 40% unbatched against made-up names (a decoy hash each), 20% in batches of ten. ' +
        'The real `nook start`, over loopback.',
      '',
      '| `/api/health` during | samples | p50 ms | p95 ms | p99 ms | max ms | aim p95 | met |',
      '| --- | ---: | ---: | ---: | ---: | ---: | --- | --- |',
      ...health.map(
        (h) =>
          `| ${h.label} | ${h.samples} | ${h.p50} | ${h.p95} | ${h.p99} | ${h.max} | ${h.aimP95Ms ? `< ${h.aimP95Ms} ms` : '—'} | ${h.aimMet === undefined ? '—' : h.aimMet ? 'yes' : '**no**'} |`,
      ),
      '',
      `| flood | requests | seconds | ${statuses.map((s) => (s === '0' ? 'no answer' : s)).join(' | ')} |`,
      `| --- | ---: | ---: | ${statuses.map(() => '---:').join(' | ')} |`,
      ...floods.map(
        (f) =>
          `| ${f.id} | ${f.requests} | ${f.seconds.toFixed(1)} | ${statuses.map((s) => f.attemptsByStatus[s] ?? 0).join(' | ')} |`,
      ),
      '',
      'The status columns count sign-in attempts by the answer to the request that carried them: 400 a refused batch ' +
        '(auth calls are never batched), 401 a wrong password checked, 429 refused by the back-off before any hash, ' +
        '503 refused by the full password queue (one hash at a time, 16 waiting). Refusals (429, 503) are held ' +
        'a second before they are answered, so each connection asks at most once a second.',
      '',
      `Machine: ${report.machine.cpu}, ${report.machine.cores} cores, Node ${report.machine.node}; load average (1, 5, 15 min) ${loadBefore} before, ${loadAfter} after. The client shares the cores with the server.`,
      '',
    ].join('\n');
    const results = path.join(repoRoot, 'bench', 'results');
    // Another concurrency is another finding, kept beside the default one.
    const name = process.env.NOOK_BENCH_CONCURRENCY ? `auth-c${concurrency}-latest` : 'auth-latest';
    await writeFile(path.join(results, `${name}.json`), JSON.stringify(report, null, 2) + '\n');
    await writeFile(path.join(results, `${name}.md`), markdown);
    process.stdout.write(markdown);
  } finally {
    await nook.stop();
    await rm(dataDir, { recursive: true, force: true });
  }
}

await main();
