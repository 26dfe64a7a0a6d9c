// The dashboard in Chromium against a real `nook start`: empty state, uploads, duplicates, failures, outages.
import { spawn, type ChildProcess } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { existsSync } from 'node:fs';
import { chmod, mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import pg from 'pg';
import { chromium, type Browser, type BrowserContext, type Page } from 'playwright-core';
import sharp from 'sharp';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';

const root = fileURLToPath(new URL('..', import.meta.url));
const screenshots = path.join(root, 'e2e', 'screenshots');
const phone = { width: 390, height: 844 };
const desktop = { width: 1280, height: 800 };

function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const probe = createServer();
    probe.once('error', reject);
    probe.listen(0, '127.0.0.1', () => {
      const address = probe.address();
      probe.close(() => (typeof address === 'object' && address ? resolve(address.port) : reject()));
    });
  });
}

async function waitForHealth(url: string, child: ChildProcess, output: () => string): Promise<void> {
  const deadline = Date.now() + 120_000;
  while (Date.now() < deadline) {
    if (child.exitCode !== null) throw new Error(`nook exited with ${child.exitCode}:\n${output()}`);
    const healthy = await fetch(`${url}/api/health`)
      .then((response) => response.status === 200)
      .catch(() => false);
    if (healthy) return;
    await new Promise((resolve) => setTimeout(resolve, 250));
  }
  throw new Error(`nook did not become healthy within 120 s:\n${output()}`);
}

function exited(child: ChildProcess): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return Promise.resolve();
  return new Promise((resolve) => child.once('exit', () => resolve()));
}

describe('dashboard', () => {
  let dataDir: string;
  let filesDir: string;
  let schema: string | undefined;
  let server: ChildProcess;
  let serverOutput = '';
  let url: string;
  let browser: Browser;
  let context: BrowserContext;
  let page: Page;
  const pageErrors: string[] = [];

  const tiles = () => page.locator('[data-asset-id]');
  const fileInput = () => page.locator('input[type="file"]').first();

  async function shoot(name: string, { dark = false, viewport = desktop } = {}): Promise<void> {
    await page.setViewportSize(viewport);
    await page.emulateMedia({ colorScheme: dark ? 'dark' : 'light' });
    await page.screenshot({ path: path.join(screenshots, `${name}.png`), animations: 'disabled' });
  }

  /** Every thumbnail in the grid has actually been decoded by the browser. */
  async function thumbnailsLoaded(count: number): Promise<void> {
    const decoded = () =>
      page
        .locator('[data-asset-id] img')
        .evaluateAll((images) =>
          (images as unknown as { complete: boolean; naturalWidth: number }[]).map(
            (image) => image.complete && image.naturalWidth > 0,
          ),
        );
    await expect.poll(decoded, { timeout: 30_000 }).toEqual(Array.from({ length: count }, () => true));
  }

  beforeAll(async () => {
    if (!existsSync(path.join(root, 'apps', 'web', 'build', 'index.html')))
      throw new Error('apps/web/build is missing: run `npm run build -w @nook/web` first');

    // The embedded PostgreSQL runs as `postgres` when tests run as root, and must traverse this directory.
    dataDir = await mkdtemp(path.join(tmpdir(), 'nook-e2e-'));
    await chmod(dataDir, 0o755);
    filesDir = await mkdtemp(path.join(tmpdir(), 'nook-e2e-files-'));
    await mkdir(screenshots, { recursive: true });

    const port = await freePort();
    url = `http://127.0.0.1:${port}`;
    const env: NodeJS.ProcessEnv = {
      ...process.env,
      NOOK_DATA_DIR: dataDir,
      NOOK_HOST: '127.0.0.1',
      NOOK_PORT: String(port),
      NOOK_LOG_LEVEL: 'info',
    };
    delete env.NOOK_DATABASE_URL;
    delete env.NOOK_QUEUE_SCHEMA;
    if (process.env.NOOK_TEST_DATABASE_URL) {
      schema = `e2e_${randomBytes(6).toString('hex')}`;
      env.NOOK_DATABASE_URL = process.env.NOOK_TEST_DATABASE_URL;
      env.NOOK_QUEUE_SCHEMA = schema;
    }
    server = spawn(process.execPath, [path.join(root, 'apps', 'cli', 'bin', 'nook.js'), 'start'], {
      cwd: root,
      env,
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    const collect = (chunk: Buffer) => (serverOutput += chunk.toString());
    server.stdout!.on('data', collect);
    server.stderr!.on('data', collect);
    await waitForHealth(url, server, () => serverOutput);

    browser = await chromium.launch({
      executablePath: process.env.CHROMIUM_PATH ?? '/usr/bin/chromium',
      args: [
        '--headless=new',
        '--no-sandbox',
        '--disable-gpu',
        '--disable-quic',
        '--no-first-run',
        '--disable-background-networking',
        '--disable-component-update',
        '--disable-sync',
      ],
    });
    context = await browser.newContext({ viewport: desktop });
    page = await context.newPage();
    page.on('pageerror', (error) => pageErrors.push(error.message));
  });

  afterAll(async () => {
    await context?.close();
    await browser?.close();
    if (server && server.exitCode === null && server.signalCode === null) {
      server.kill('SIGTERM');
      await exited(server);
    }
    if (schema && process.env.NOOK_TEST_DATABASE_URL) {
      const client = new pg.Client({ connectionString: process.env.NOOK_TEST_DATABASE_URL });
      await client.connect();
      try {
        await client.query(`DROP SCHEMA IF EXISTS "${schema}" CASCADE`);
      } finally {
        await client.end();
      }
    }
    if (dataDir) await rm(dataDir, { recursive: true, force: true });
    if (filesDir) await rm(filesDir, { recursive: true, force: true });
  });

  it('welcomes an empty library', async () => {
    await page.goto(url);
    await page.getByRole('heading', { name: 'Your library is empty' }).waitFor();
    expect(await tiles().count()).toBe(0);
    await shoot('empty-light');
    await shoot('empty-dark', { dark: true });
    await shoot('empty-phone', { viewport: phone });
    await page.setViewportSize(desktop);
  });

  it('uploads photos from the file picker and shows their thumbnails', async () => {
    const green = path.join(filesDir, 'garden.jpg');
    const blue = path.join(filesDir, 'lake.jpg');
    await sharp({ create: { width: 1200, height: 800, channels: 3, background: '#4a8' } })
      .jpeg()
      .toFile(green);
    await sharp({ create: { width: 800, height: 1200, channels: 3, background: '#38c' } })
      .jpeg()
      .toFile(blue);

    await fileInput().setInputFiles([green, blue]);
    await page.locator('[data-status="ready"] img').nth(1).waitFor({ timeout: 30_000 });
    await thumbnailsLoaded(2);
    expect(await tiles().count()).toBe(2);
    expect(
      await page
        .locator('[data-asset-id] img')
        .evaluateAll((images) => images.map((i) => i.getAttribute('alt')).sort()),
    ).toEqual(['garden.jpg', 'lake.jpg']);
    await page.getByRole('heading', { name: 'Your library is empty' }).waitFor({ state: 'detached' });
    await shoot('grid-light');
  });

  it('reports a file that is already in the library, without adding a tile', async () => {
    await fileInput().setInputFiles(path.join(filesDir, 'garden.jpg'));
    await page.locator('li[data-state="duplicate"]', { hasText: 'Already in your library' }).waitFor();
    expect(await tiles().count()).toBe(2);
    await shoot('duplicate-light');
    await shoot('duplicate-dark', { dark: true });
  });

  it('shows a file that cannot be processed as failed, with the reason', async () => {
    await writeFile(path.join(filesDir, 'broken.jpg'), randomBytes(8192));
    await fileInput().setInputFiles(path.join(filesDir, 'broken.jpg'));
    const tile = page.locator('[data-asset-id]', { hasText: 'broken.jpg' });
    await tile.waitFor();
    // The worker retries with backoff before it gives up, so the final verdict takes a while.
    await page.locator('[data-status="failed"]', { hasText: 'broken.jpg' }).waitFor({ timeout: 150_000 });
    expect(await tile.textContent()).toContain("Couldn't process");
    const title = (await tile.getAttribute('title')) ?? '';
    expect(title).toMatch(/^Couldn't process broken\.jpg: .+/);
    expect(title).not.toContain('The file could not be read.');
    expect(await tiles().count()).toBe(3);
    await thumbnailsLoaded(2);
    await shoot('failed-light');
    await shoot('failed-dark', { dark: true });
    await shoot('failed-phone', { viewport: phone });
    await shoot('failed-phone-dark', { viewport: phone, dark: true });
    await page.setViewportSize(desktop);
  });

  it('keeps the three assets after a reload', async () => {
    await page.reload();
    await thumbnailsLoaded(2);
    expect(await tiles().count()).toBe(3);
    expect(await page.locator('[data-status="failed"]').count()).toBe(1);
  });

  it('says when the server cannot be reached, and recovers on retry', async () => {
    await page.route('**/trpc/**', (route) => route.abort('connectionrefused'));
    await page.reload();
    const retry = page.getByRole('button', { name: 'Try again' });
    await retry.waitFor();
    await page.getByRole('heading', { name: "Couldn't load your library" }).waitFor();
    await shoot('error-light');
    await shoot('error-dark', { dark: true });
    await page.unroute('**/trpc/**');
    await retry.click();
    await thumbnailsLoaded(2);
    expect(await tiles().count()).toBe(3);
  });

  it('raised no errors in the page', () => {
    expect(pageErrors).toEqual([]);
  });
});
