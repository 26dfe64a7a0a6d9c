// What every browser test needs: its own `nook start` on a free port and data directory, Chromium, screenshots.
import { spawn, type ChildProcess } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { existsSync, readFileSync } from 'node:fs';
import { chmod, mkdir, mkdtemp, rm } from 'node:fs/promises';
import { createRequire } from 'node:module';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import pg from 'pg';
import { chromium, type Browser, type BrowserContext, type Page } from 'playwright-core';

export const root = fileURLToPath(new URL('..', import.meta.url));
export const screenshots = path.join(root, 'e2e', 'screenshots');
export const phone = { width: 390, height: 844 };
export const desktop = { width: 1440, height: 900 };

/** The administrator every test file creates through the setup page. */
export const admin = { username: 'ada', displayName: 'Ada Admin', password: 'correct horse battery' };

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

export interface Nook {
  url: string;
  /** Everything the server printed so far, for failure messages. */
  output(): string;
  stop(): Promise<void>;
}

/** A fresh Nook with no accounts; on NOOK_TEST_DATABASE_URL its queue lives in a schema of its own. */
export async function startNook(): Promise<Nook> {
  if (!existsSync(path.join(root, 'apps', 'web', 'build', 'index.html')))
    throw new Error('apps/web/build is missing: run `npm run build -w @nook/web` first');

  // The embedded PostgreSQL runs as `postgres` when tests run as root, and must traverse this directory.
  const dataDir = await mkdtemp(path.join(tmpdir(), 'nook-e2e-'));
  await chmod(dataDir, 0o755);
  await mkdir(screenshots, { recursive: true });

  const port = await freePort();
  const url = `http://127.0.0.1:${port}`;
  const env: NodeJS.ProcessEnv = {
    ...process.env,
    NOOK_DATA_DIR: dataDir,
    NOOK_HOST: '127.0.0.1',
    NOOK_PORT: String(port),
    NOOK_LOG_LEVEL: 'info',
    // Where the tests make the folders they add as libraries.
    NOOK_LIBRARY_ROOTS: tmpdir(),
  };
  delete env.NOOK_DATABASE_URL;
  delete env.NOOK_QUEUE_SCHEMA;
  let schema: string | undefined;
  if (process.env.NOOK_TEST_DATABASE_URL) {
    schema = `e2e_${randomBytes(6).toString('hex')}`;
    env.NOOK_DATABASE_URL = process.env.NOOK_TEST_DATABASE_URL;
    env.NOOK_QUEUE_SCHEMA = schema;
  }
  const server = spawn(process.execPath, [path.join(root, 'apps', 'cli', 'bin', 'nook.js'), 'start'], {
    cwd: root,
    env,
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let output = '';
  const collect = (chunk: Buffer) => (output += chunk.toString());
  server.stdout!.on('data', collect);
  server.stderr!.on('data', collect);

  const stop = async () => {
    if (server.exitCode === null && server.signalCode === null) {
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
    await rm(dataDir, { recursive: true, force: true });
  };

  try {
    await waitForHealth(url, server, () => output);
  } catch (error) {
    await stop();
    throw error;
  }
  return { url, output: () => output, stop };
}

export function launchBrowser(): Promise<Browser> {
  return chromium.launch({
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
}

const axeSource = readFileSync(createRequire(import.meta.url).resolve('axe-core/axe.min.js'), 'utf8');

/**
 * What axe finds against WCAG 2.1 A and AA on the page as it is now, one line per rule broken.
 * Evaluated through the DevTools protocol, so the page's CSP (no inline scripts) stays as it is.
 */
export async function accessibilityProblems(page: Page): Promise<string[]> {
  if (!(await page.evaluate('typeof window.axe === "object"'))) await page.evaluate(`${axeSource};0`);
  return page.evaluate(`axe
    .run(document, { runOnly: { type: 'tag', values: ['wcag2a', 'wcag2aa', 'wcag21a', 'wcag21aa'] } })
    .then((result) => result.violations.map((violation) =>
      violation.id + ' (' + violation.impact + '): ' + violation.help + ' — ' +
      violation.nodes.slice(0, 3).map((node) => node.target.join(' ')).join('; ')))`);
}

/**
 * Saves a screenshot of `page` as it looks in one color scheme and size (the page keeps that size),
 * and fails on anything axe finds there.
 */
export async function shoot(
  page: Page,
  name: string,
  {
    dark = false,
    viewport = desktop,
    fullPage = false,
  }: { dark?: boolean; viewport?: { width: number; height: number }; fullPage?: boolean } = {},
): Promise<void> {
  await page.setViewportSize(viewport);
  await page.emulateMedia({ colorScheme: dark ? 'dark' : 'light' });
  await page.screenshot({ path: path.join(screenshots, `${name}.png`), animations: 'disabled', fullPage });
  // Every page is checked for accessibility as it is shot, in each size and color scheme.
  const problems = await accessibilityProblems(page);
  if (problems.length) throw new Error(`accessibility problems on ${name}:\n  ${problems.join('\n  ')}`);
}

/** On a fresh Nook, `/` leads to setup; creates the administrator there and waits for the library. */
export async function completeSetup(page: Page, url: string): Promise<void> {
  await page.goto(url);
  await page.waitForURL(`${url}/setup`);
  await page.getByLabel('Username').fill(admin.username);
  await page.getByLabel('Display name').fill(admin.displayName);
  await page.getByLabel('Password', { exact: true }).fill(admin.password);
  await page.getByLabel('Confirm password').fill(admin.password);
  await page.getByRole('button', { name: 'Create administrator' }).click();
  await page.getByRole('heading', { name: 'Library', exact: true }).waitFor();
}

export async function signIn(page: Page, url: string, username: string, password: string): Promise<void> {
  await page.goto(`${url}/login`);
  await page.getByLabel('Username').fill(username);
  await page.getByLabel('Password').fill(password);
  await page.getByRole('button', { name: 'Sign in' }).click();
  await page.getByRole('heading', { name: 'Library', exact: true }).waitFor();
}

/** Opens the account menu in the header, which is labelled with the person's display name. */
export async function openMenu(page: Page, displayName: string): Promise<void> {
  await page.getByRole('button', { name: displayName, exact: true }).click();
  await page.getByRole('navigation', { name: 'Account' }).waitFor();
}

/** One browser test file's world: a Nook, Chromium with a desktop page, and a folder for test files. */
export interface E2eSession {
  nook: Nook;
  browser: Browser;
  context: BrowserContext;
  page: Page;
  filesDir: string;
  /** Uncaught errors of the page, which a test expects to stay empty. */
  pageErrors: string[];
  close(): Promise<void>;
}

export async function startSession(): Promise<E2eSession> {
  const filesDir = await mkdtemp(path.join(tmpdir(), 'nook-e2e-files-'));
  const nook = await startNook();
  const browser = await launchBrowser();
  const context = await browser.newContext({ viewport: desktop });
  const page = await context.newPage();
  const pageErrors: string[] = [];
  page.on('pageerror', (error) => pageErrors.push(error.message));
  return {
    nook,
    browser,
    context,
    page,
    filesDir,
    pageErrors,
    async close() {
      await context.close();
      await browser.close();
      await nook.stop();
      await rm(filesDir, { recursive: true, force: true });
    },
  };
}
