// `npm run bench:web`: the dashboard in Chromium — JS shipped on first load, time to the first grid paint
// with 200,000 assets over loopback, and the frame rate while flinging through the grid and while scrolling
// at reading pace.
//
// Seeds the real schema with bench/library's seeder, starts `nook start` on it, signs in, and drives
// Debian's Chromium with playwright-core. Frames are counted from Chromium's own trace (DrawFrame events);
// the same trace says where the page's main thread spent its time. NOOK_BENCH_TRACE=<prefix> keeps each
// trace as <prefix>-<scroll>.json (open it in chrome://tracing or Perfetto).
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdir, rm, writeFile } from 'node:fs/promises';
import { createServer } from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { gzipSync } from 'node:zlib';
import { chromium, type BrowserContext } from 'playwright-core';
import sqlite3 from 'sqlite3';
import { seedAssets, sql } from '../seed';

const repoRoot = fileURLToPath(new URL('../..', import.meta.url));
const assetCount = Number(process.env.NOOK_BENCH_ASSETS ?? 200_000);
const paintRuns = 5;
const password = 'bench password';

function run(command: string, args: string[], env: NodeJS.ProcessEnv, input = ''): Promise<void> {
  return new Promise((resolve, reject) => {
    const child = spawn(command, args, { env, stdio: ['pipe', 'ignore', 'inherit'] });
    child.on('exit', (code) =>
      code === 0 ? resolve() : reject(new Error(`${args.join(' ')} exited ${code}`)),
    );
    child.stdin.end(input);
  });
}

function freePort(): Promise<number> {
  return new Promise((resolve) => {
    const server = createServer().listen(0, '127.0.0.1', () => {
      const { port } = server.address() as { port: number };
      server.close(() => resolve(port));
    });
  });
}

interface TraceEvent {
  name: string;
  ts: number;
  ph?: string;
  dur?: number;
  pid?: number;
  tid?: number;
  args?: { name?: string };
}

/**
 * Time spent in the kinds of work a scroll costs, in ms: script, style and layout, paint on the page's main
 * thread, image decoding on any thread. Nested events count once (script that forces a layout counts in both).
 */
function workTime(events: readonly TraceEvent[]): Record<keyof typeof WORK, number> {
  const main = events.find((event) => event.name === 'thread_name' && event.args?.name === 'CrRendererMain');
  const result = {} as Record<keyof typeof WORK, number>;
  for (const [kind, names] of Object.entries(WORK) as [keyof typeof WORK, readonly string[]][]) {
    const byThread = new Map<string, (readonly [number, number])[]>();
    for (const event of events) {
      if (event.ph !== 'X' || !event.dur || !names.includes(event.name)) continue;
      if (kind !== 'decode' && (event.pid !== main?.pid || event.tid !== main?.tid)) continue;
      const thread = `${event.pid}:${event.tid}`;
      const spans = byThread.get(thread) ?? [];
      spans.push([event.ts, event.ts + event.dur]);
      byThread.set(thread, spans);
    }
    let total = 0;
    for (const spans of byThread.values()) {
      let end = -Infinity;
      for (const [from, to] of spans.sort((x, y) => x[0] - y[0])) {
        if (to <= end) continue;
        total += to - Math.max(from, end);
        end = to;
      }
    }
    result[kind] = Math.round(total / 1000);
  }
  return result;
}

const WORK = {
  script: [
    'FunctionCall',
    'EvaluateScript',
    'TimerFire',
    'FireAnimationFrame',
    'EventDispatch',
    'MinorGC',
    'MajorGC',
  ],
  style: ['UpdateLayoutTree', 'Layout'],
  paint: ['PrePaint', 'Paint', 'Layerize'],
  decode: ['Decode Image', 'ImageDecodeTask'],
} as const;

interface ScrollFigures {
  stepPx: number;
  steps: number;
  ms: number;
  scrolledPx: number;
  frames: number;
  fps: number;
  framesOver50ms: number;
  worstFrameMs: number | null;
  tilesInPageAtEnd: number;
  /** From the last wheel step to the first tile inside the window (null: none within 10 s). */
  firstTileInViewMs: number | null;
  /** Where the time went, ms (see `workTime`). */
  work: Record<keyof typeof WORK, number>;
}

/**
 * A fresh library page, then `steps` wheel steps of `stepPx` (one about every frame) from its top, traced:
 * frames drawn, the main thread's work, and how soon tiles show where the scrolling stopped.
 */
async function scrollThrough(
  context: BrowserContext,
  base: string,
  label: string,
  stepPx: number,
  steps: number,
): Promise<ScrollFigures> {
  const page = await context.newPage();
  await page.goto(base);
  await page.waitForSelector('[data-asset-id]');
  const cdp = await context.newCDPSession(page);
  const events: TraceEvent[] = [];
  cdp.on('Tracing.dataCollected', (payload) => {
    events.push(...(payload as unknown as { value: TraceEvent[] }).value);
  });
  const done = new Promise<void>((resolve) => cdp.once('Tracing.tracingComplete', () => resolve()));
  await cdp.send('Tracing.start', {
    categories: 'devtools.timeline,disabled-by-default-devtools.timeline.frame',
    transferMode: 'ReportEvents',
  });
  await page.mouse.move(700, 500);
  const started = Date.now();
  for (let step = 0; step < steps; step++) {
    await page.mouse.wheel(0, stepPx);
    await page.waitForTimeout(16);
  }
  const ms = Date.now() - started;
  const stopped = Date.now();
  // Polled in the page from now on, while the trace is collected.
  const tileInView = page
    .waitForFunction(
      () => {
        interface Box {
          top: number;
          bottom: number;
        }
        const scope = globalThis as unknown as {
          innerHeight: number;
          document: { querySelectorAll(selector: string): Iterable<{ getBoundingClientRect(): Box }> };
        };
        return [...scope.document.querySelectorAll('[data-asset-id]')].some((tile) => {
          const box = tile.getBoundingClientRect();
          return box.bottom > 0 && box.top < scope.innerHeight;
        });
      },
      undefined,
      { timeout: 10_000, polling: 'raf' },
    )
    .then(() => Date.now() - stopped)
    .catch(() => null);
  const scrolledPx = await page.evaluate(() => (globalThis as unknown as { scrollY: number }).scrollY);
  const tilesInPageAtEnd = await page.locator('[data-asset-id]').count();
  await cdp.send('Tracing.end');
  await done;
  const firstTileInViewMs = await tileInView;
  await page.close();
  if (process.env.NOOK_BENCH_TRACE)
    await writeFile(`${process.env.NOOK_BENCH_TRACE}-${label}.json`, JSON.stringify({ traceEvents: events }));
  const frames = events
    .filter((event) => event.name === 'DrawFrame')
    .map((event) => event.ts)
    .sort((a, b) => a - b);
  const span = frames.length > 1 ? (frames[frames.length - 1]! - frames[0]!) / 1e6 : ms / 1000;
  const gaps = frames.slice(1).map((ts, index) => (ts - frames[index]!) / 1000);
  return {
    stepPx,
    steps,
    ms,
    scrolledPx,
    frames: frames.length,
    fps: Number((frames.length > 1 ? (frames.length - 1) / span : 0).toFixed(1)),
    framesOver50ms: gaps.filter((gap) => gap > 50).length,
    worstFrameMs: gaps.length ? Math.round(Math.max(...gaps)) : null,
    tilesInPageAtEnd,
    firstTileInViewMs,
    work: workTime(events),
  };
}

/** "script 420 · style 130 · …" for the report. */
const workLine = (figures: ScrollFigures) =>
  Object.entries(figures.work)
    .map(([kind, ms]) => `${kind} ${ms}`)
    .join(' · ');

const median = (values: number[]) => [...values].sort((a, b) => a - b)[Math.floor(values.length / 2)]!;

async function main(): Promise<void> {
  const work = path.join(repoRoot, 'bench', 'work', `web-${Date.now()}`);
  await mkdir(work, { recursive: true });
  const env: NodeJS.ProcessEnv = {
    ...process.env,
    NOOK_DATA_DIR: work,
    NOOK_LOG_LEVEL: 'warn',
    NOOK_HOST: '127.0.0.1',
  };
  delete env.NOOK_DATABASE_URL;
  const external = process.env.NOOK_TEST_DATABASE_URL;
  if (external)
    Object.assign(env, { NOOK_DATABASE_URL: external, NOOK_QUEUE_SCHEMA: `bench_web_${Date.now()}` });
  const nook = path.join(repoRoot, 'apps/cli/bin/nook.js');
  let server: ChildProcess | undefined;
  const loadBefore = os.loadavg();
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

    const port = await freePort();
    server = spawn(process.execPath, [nook, 'start'], {
      env: { ...env, NOOK_PORT: String(port) },
      stdio: ['ignore', 'ignore', 'inherit'],
    });
    const base = `http://127.0.0.1:${port}`;
    for (let i = 0; ; i++) {
      if ((await fetch(`${base}/api/health`).catch(() => null))?.ok) break;
      if (i > 1200) throw new Error('Nook did not start');
      await new Promise((resolve) => setTimeout(resolve, 100));
    }
    const login = await fetch(`${base}/trpc/auth.login`, {
      method: 'POST',
      body: JSON.stringify({ username: 'bench', password }),
      headers: { 'content-type': 'application/json', origin: base },
    });
    const [name, value] = login.headers.getSetCookie()[0]!.split(';')[0]!.split('=') as [string, string];

    const browser = await chromium.launch({
      executablePath: process.env.CHROMIUM_PATH ?? '/usr/bin/chromium',
      args: [
        '--headless=new',
        '--no-sandbox',
        '--disable-gpu',
        '--no-first-run',
        '--disable-background-networking',
      ],
    });
    try {
      // 1. JS on first load: every script the library page fetches before it is idle, gzipped.
      const context = await browser.newContext({ viewport: { width: 1440, height: 900 } });
      await context.addCookies([{ name, value, url: base }]);
      const page = await context.newPage();
      const scripts = new Map<string, number>();
      page.on('response', async (response) => {
        if (response.request().resourceType() !== 'script') return;
        const body = await response.body().catch(() => null);
        if (body) scripts.set(response.url(), gzipSync(body, { level: 9 }).length);
      });
      await page.goto(base, { waitUntil: 'networkidle' });
      const jsGzipKb = [...scripts.values()].reduce((sum, size) => sum + size, 0) / 1024;

      // 2. First grid paint: navigation start to the first tile in the page, on a warm browser cache like a return visit.
      const paints: number[] = [];
      for (let i = 0; i < paintRuns; i++) {
        const fresh = await context.newPage();
        await fresh.goto(base);
        // A grid that never paints says why in the page's own words.
        await fresh.waitForSelector('[data-asset-id]', { timeout: 30_000 }).catch(async (error: Error) => {
          const text = await fresh.evaluate(
            () =>
              (globalThis as unknown as { document: { body: { innerText: string } } }).document.body
                .innerText,
          );
          throw new Error(`${error.message}\n${text.slice(0, 600)}`);
        });
        // Read in the page right after the first tile shows: an upper bound by one round trip to Chromium.
        paints.push(
          await fresh.evaluate(() =>
            (globalThis as unknown as { performance: { now(): number } }).performance.now(),
          ),
        );
        await fresh.close();
      }

      // 3. Flinging: 2,400 px per wheel step, more than two screens a frame, through years of photos;
      // 4. then at reading pace, 300 px a step, where every row that comes into view gets its tiles.
      const fling = await scrollThrough(context, base, 'fling', 2400, 120);
      const reading = await scrollThrough(context, base, 'reading', 300, 120);
      await context.close();

      const loadAfter = os.loadavg();
      const report = {
        startedAt: new Date().toISOString(),
        machine: { cpu: os.cpus()[0]?.model, cores: os.cpus().length, node: process.version },
        loadAverage: { before: loadBefore, after: loadAfter },
        assets: assetCount,
        jsGzipKb: Number(jsGzipKb.toFixed(1)),
        scripts: scripts.size,
        firstGridPaintMs: { median: Math.round(median(paints)), runs: paints.map(Math.round) },
        fling,
        reading,
      };
      const scrollRows = (name: string, figures: ScrollFigures) => [
        `| ${name}: frames per second (DrawFrame in the trace; ${figures.stepPx} px a wheel step) | ${figures.fps} | ≥ 50 | ${figures.fps >= 50 ? 'yes' : '**no**'} |`,
        `| ${name}: frames longer than 50 ms / worst | ${figures.framesOver50ms} / ${figures.worstFrameMs} ms | | |`,
        `| ${name}: scrolled in ${figures.ms} ms / tiles in the page at the end | ${figures.scrolledPx.toLocaleString('en')} px / ${figures.tilesInPageAtEnd} | | |`,
        `| ${name}: first tile in view after the last step | ${figures.firstTileInViewMs === null ? 'none in 10 s' : `${figures.firstTileInViewMs} ms`} | | |`,
        `| ${name}: work, ms (main thread; decoding on any thread) | ${workLine(figures)} | | |`,
      ];
      const markdown = [
        `# Nook web bench — ${report.startedAt}`,
        '',
        `${assetCount.toLocaleString('en')} assets seeded through the real schema; Chromium headless (software rendering) over loopback.`,
        `Load average (1/5/15 min) before ${loadBefore.map((x) => x.toFixed(2)).join(' / ')}, after ${loadAfter.map((x) => x.toFixed(2)).join(' / ')} on ${report.machine.cores} cores — other work shared the machine.`,
        '',
        '| Figure | Value | Goal | Met |',
        '| --- | ---: | ---: | --- |',
        `| JS on first load (gzip, ${scripts.size} files) | ${report.jsGzipKb} KB | < 150 KB | ${report.jsGzipKb < 150 ? 'yes' : '**no**'} |`,
        `| First grid paint (median of ${paintRuns}; runs ${report.firstGridPaintMs.runs.join(', ')} ms) | ${report.firstGridPaintMs.median} ms | < 1500 ms | ${report.firstGridPaintMs.median < 1500 ? 'yes' : '**no**'} |`,
        ...scrollRows('Fling', fling),
        ...scrollRows('Reading pace', reading),
        '',
        `Machine: ${report.machine.cpu}, ${report.machine.cores} cores, Node ${report.machine.node}.`,
        '',
      ].join('\n');
      const dir = path.join(repoRoot, 'bench', 'results');
      await writeFile(path.join(dir, 'web-latest.json'), JSON.stringify(report, null, 2) + '\n');
      await writeFile(path.join(dir, 'web-latest.md'), markdown);
      process.stdout.write(markdown);
    } finally {
      await browser.close();
    }
  } finally {
    server?.kill('SIGTERM');
    if (server) await new Promise((resolve) => server!.once('exit', resolve));
    await rm(work, { recursive: true, force: true });
  }
}

await main();
