// `npm run bench:library`: the read side at household scale — 1,000,000 assets, 50 concurrent clients.
//
// Seeds the real schema (migrations, FTS5 triggers and all) through SQL, starts `nook start` on it, then
// loads each procedure over loopback with autocannon and reports p50/p95/p99 latencies.
import { spawn } from 'node:child_process';
import { existsSync } from 'node:fs';
import { mkdir, rm, stat, writeFile } from 'node:fs/promises';
import { createServer } from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import autocannon from 'autocannon';
import sqlite3 from 'sqlite3';
import { seedAssets, sql } from '../seed';

const repoRoot = fileURLToPath(new URL('../..', import.meta.url));
const assetCount = Number(process.env.NOOK_BENCH_ASSETS ?? 1_000_000);
const seconds = Number(process.env.NOOK_BENCH_SECONDS ?? 8);
const connections = 50;
const password = 'bench password';

interface Scenario {
  id: string;
  label: string;
  path: string;
  /** A different path for every request, so no cache can answer it. */
  vary?: () => string;
  aimP95Ms: number;
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

async function freePort(): Promise<number> {
  return new Promise((resolve) => {
    const server = createServer().listen(0, '127.0.0.1', () => {
      const { port } = server.address() as { port: number };
      server.close(() => resolve(port));
    });
  });
}

async function main(): Promise<void> {
  // NOOK_BENCH_KEEP names a data dir to seed once and reuse (for profiling); it is never deleted.
  const kept = process.env.NOOK_BENCH_KEEP;
  const work = kept ? path.resolve(kept) : path.join(repoRoot, 'bench', 'work', `library-${Date.now()}`);
  const reuse = Boolean(kept) && existsSync(path.join(work, 'nook.db'));
  await mkdir(work, { recursive: true });
  const env: NodeJS.ProcessEnv = {
    ...process.env,
    NOOK_DATA_DIR: work,
    NOOK_LOG_LEVEL: 'warn',
    NOOK_HOST: '127.0.0.1',
  };
  const external = process.env.NOOK_DATABASE_URL || process.env.NOOK_TEST_DATABASE_URL;
  if (external) Object.assign(env, { NOOK_DATABASE_URL: external, NOOK_QUEUE_SCHEMA: `bench_${Date.now()}` });
  const nook = path.join(repoRoot, 'apps/cli/bin/nook.js');
  let server: ReturnType<typeof spawn> | undefined;
  try {
    if (!reuse) await run(process.execPath, [nook, 'user', 'create', 'bench'], env, `${password}\n`);
    const dbFile = path.join(work, 'nook.db');
    const db = new sqlite3.Database(dbFile);
    const [ids] = await sql<{ owner: string; library: string }>(
      db,
      `select owner_id as owner, id as library from libraries limit 1`,
    );
    const seedStarted = Date.now();
    if (!reuse) await seedAssets(db, ids!.owner, ids!.library, assetCount);
    const seedSeconds = (Date.now() - seedStarted) / 1000;
    const [deep] = await sql<{ taken_at: number; id: string }>(
      db,
      'select taken_at, id from assets order by taken_at desc, id desc limit 1 offset 9999',
    );
    await sql(db, 'pragma wal_checkpoint(truncate)');
    await new Promise<void>((resolve) => db.close(() => resolve()));
    const dbBytes = (await stat(dbFile)).size;

    const port = await freePort();
    // NOOK_BENCH_NODE_ARGS passes flags to the server's node, e.g. --cpu-prof for a profile.
    const nodeArgs = process.env.NOOK_BENCH_NODE_ARGS?.split(' ').filter(Boolean) ?? [];
    server = spawn(process.execPath, [...nodeArgs, nook, 'start'], {
      env: { ...env, NOOK_PORT: String(port) },
      stdio: ['ignore', 'ignore', 'inherit'],
    });
    const base = `http://127.0.0.1:${port}`;
    for (let i = 0; ; i++) {
      if ((await fetch(`${base}/api/health`).catch(() => null))?.ok) break;
      if (i > 600) throw new Error('Nook did not start');
      await new Promise((resolve) => setTimeout(resolve, 100));
    }
    const login = await fetch(`${base}/trpc/auth.login`, {
      method: 'POST',
      body: JSON.stringify({ username: 'bench', password }),
      headers: { 'content-type': 'application/json', origin: base },
    });
    const cookie = login.headers.getSetCookie()[0]!.split(';')[0]!;
    // As a browser asks: it always accepts gzip (autocannon counts the bytes and does not unpack them).
    const headers = { cookie, 'accept-encoding': 'gzip' };
    const q = (procedure: string, input: unknown) =>
      `/trpc/${procedure}?input=${encodeURIComponent(JSON.stringify(input))}`;
    const deepCursor = Buffer.from(`${deep!.taken_at}:${deep!.id}`).toString('base64url');
    const scenarios: Scenario[] = [
      {
        id: 'timeline-first',
        label: 'Timeline, first page (100)',
        path: q('assets.list', { limit: 100 }),
        aimP95Ms: 20,
      },
      {
        id: 'timeline-deep',
        label: 'Timeline, page 10,000 rows deep',
        path: q('assets.list', { limit: 100, cursor: deepCursor }),
        aimP95Ms: 20,
      },
      {
        // Answers are kept until something commits; a `to` date far in the future changes the URL, not the rows.
        id: 'timeline-first-uncached',
        label: 'Timeline, first page, a new URL every request (uncached)',
        path: q('assets.list', { limit: 100 }),
        vary: () => q('assets.list', { limit: 100, filters: { to: futureDate() } }),
        // Issue 16: what every page costs while something commits, under a household's 50 clients.
        aimP95Ms: 50,
      },
      {
        id: 'timeline-deep-uncached',
        label: 'Timeline, 10,000 rows deep, a new URL every request (uncached)',
        path: q('assets.list', { limit: 100, cursor: deepCursor }),
        vary: () => q('assets.list', { limit: 100, cursor: deepCursor, filters: { to: futureDate() } }),
        aimP95Ms: 50,
      },
      { id: 'buckets', label: '`assets.buckets`', path: q('assets.buckets', {}), aimP95Ms: 50 },
      {
        id: 'search-word',
        label: 'Search, one word (in 10% of assets)',
        path: q('search.query', { text: 'make3' }),
        aimP95Ms: 50,
      },
      {
        id: 'search-word-everywhere',
        label: 'Search, one word in every asset (worst case)',
        path: q('search.query', { text: 'trip' }),
        aimP95Ms: 50,
      },
      {
        // Search pages are cached until something commits; a new date filter each time misses that cache.
        id: 'search-word-uncached',
        label: 'Search, one word, a new date filter every request (uncached)',
        path: q('search.query', { text: 'make3' }),
        vary: () =>
          q('search.query', {
            text: 'make3',
            filters: {
              from: new Date(Date.UTC(2011, 0, 1) + Math.random() * 14 * 365 * 86400000).toISOString(),
            },
          }),
        aimP95Ms: 50,
      },
      {
        id: 'search-filters',
        label: 'Search with filters (camera, date range, kind)',
        path: q('search.query', {
          text: 'day',
          filters: {
            make: 'Make3',
            kinds: ['image'],
            from: '2015-01-01T00:00:00Z',
            to: '2018-01-01T00:00:00Z',
          },
        }),
        aimP95Ms: 50,
      },
      { id: 'stats', label: '`stats.summary`', path: q('stats.summary', undefined), aimP95Ms: 50 },
    ];
    // Other work on the machine distorts the figures under load; readers need to know how much there was.
    const loadBefore = os
      .loadavg()
      .map((value) => value.toFixed(1))
      .join(' ');
    const results = [];
    // NOOK_BENCH_ONLY=timeline-first,stats runs only those scenarios.
    const only = process.env.NOOK_BENCH_ONLY?.split(',');
    for (const scenario of scenarios.filter((s) => !only || only.includes(s.id))) {
      const check = await fetch(`${base}${scenario.path}`, { headers: { cookie } });
      if (!check.ok) throw new Error(`${scenario.label}: HTTP ${check.status} ${await check.text()}`);
      // One client alone shows the service time; fifty show how it holds up under a household's load.
      const vary = scenario.vary;
      const requests = vary
        ? [{ setupRequest: (request: object) => ({ ...request, path: vary() }) }]
        : undefined;
      const alone = await autocannon({
        url: `${base}${scenario.path}`,
        connections: 1,
        duration: Math.min(3, seconds),
        headers,
        requests,
      });
      const result = await autocannon({
        url: `${base}${scenario.path}`,
        connections,
        duration: seconds,
        headers,
        requests,
      });
      if (result.non2xx || result.errors)
        throw new Error(`${scenario.label}: ${result.non2xx} non-2xx, ${result.errors} errors`);
      results.push({
        ...scenario,
        requests: result.requests.total,
        rps: Math.round(result.requests.average),
        aloneP50: alone.latency.p50,
        p50: result.latency.p50,
        p95:
          result.latency.p97_5 && result.latency.p90
            ? interpolateP95(result.latency.p90, result.latency.p97_5)
            : result.latency.p99,
        p99: result.latency.p99,
      });
      console.error(`${scenario.label}: p50 ${result.latency.p50} ms, p99 ${result.latency.p99} ms`);
    }
    const loadAfter = os
      .loadavg()
      .map((value) => value.toFixed(1))
      .join(' ');
    const report = {
      startedAt: new Date().toISOString(),
      machine: { cpu: os.cpus()[0]?.model, cores: os.cpus().length, node: process.version },
      loadAverage: { before: loadBefore, after: loadAfter },
      assets: assetCount,
      connections,
      secondsPerScenario: seconds,
      seedSeconds,
      sqliteBytes: dbBytes,
      sqliteBytesPerMillion: Math.round((dbBytes / assetCount) * 1_000_000),
      results,
    };
    const markdown = [
      `# Nook library bench — ${report.startedAt}`,
      '',
      `${assetCount.toLocaleString('en')} assets, ${connections} concurrent clients, ${seconds} s per scenario, over loopback. ` +
        `SQLite file: ${(dbBytes / 1e6).toFixed(0)} MB (${(report.sqliteBytesPerMillion / 1e6).toFixed(0)} MB per million assets); ${reuse ? 'the data dir was seeded by an earlier run.' : `seeding took ${seedSeconds.toFixed(0)} s.`}`,
      '',
      '| Scenario | 1 client p50 ms | req/s (50 clients) | p50 ms | p95 ms | p99 ms | aim p95 | met |',
      '| --- | ---: | ---: | ---: | ---: | ---: | ---: | --- |',
      ...results.map((r) =>
        // No request finishing within the run is a failure, not a zero latency.
        r.requests === 0
          ? `| ${r.label} | ${r.aloneP50 || '—'} | 0 | none finished in ${seconds} s | | | < ${r.aimP95Ms} ms | **no** |`
          : `| ${r.label} | ${r.aloneP50} | ${r.rps} | ${r.p50} | ${r.p95.toFixed(1)} | ${r.p99} | < ${r.aimP95Ms} ms | ${r.p95 < r.aimP95Ms ? 'yes' : '**no**'} |`,
      ),
      '',
      `Machine: ${report.machine.cpu}, ${report.machine.cores} cores, Node ${report.machine.node}; load average (1, 5, 15 min) ${loadBefore} before the scenarios, ${loadAfter} after. p95 is interpolated between autocannon's p90 and p97.5.`,
      '',
      'Repeated reads are answered from memory until anything commits (apps/server/src/response-memo.ts); ' +
        'the rows marked "uncached" give every request a URL of its own, so each one is computed: that is the cost while uploads or jobs commit all the time. ' +
        'The load generator shares the 2 cores with the server.',
      '',
    ].join('\n');
    const results_dir = path.join(repoRoot, 'bench', 'results');
    await writeFile(path.join(results_dir, 'library-latest.json'), JSON.stringify(report, null, 2) + '\n');
    await writeFile(path.join(results_dir, 'library-latest.md'), markdown);
    process.stdout.write(markdown);
  } finally {
    server?.kill('SIGTERM');
    if (server) await new Promise((resolve) => server!.once('exit', resolve));
    if (!kept) await rm(work, { recursive: true, force: true });
  }
}

/** A moment in the 2030s: later than every seeded asset, so as a filter it changes nothing but the URL. */
function futureDate(): string {
  return new Date(Date.UTC(2030, 0, 1) + Math.floor(Math.random() * 3650) * 86400000).toISOString();
}

/** autocannon reports p90 and p97.5 but no p95; a straight line between them is close enough. */
function interpolateP95(p90: number, p975: number): number {
  return p90 + ((p975 - p90) * (95 - 90)) / (97.5 - 90);
}

await main();
