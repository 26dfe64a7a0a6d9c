// Search in Chromium against a real `nook start`: a result opens with one click right after typing, and stays open.
import { writeFile } from 'node:fs/promises';
import path from 'node:path';
import type { Page } from 'playwright-core';
import sharp from 'sharp';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { completeSetup, desktop, phone, shoot, startSession, type E2eSession } from './harness';

async function photo(file: string, color: string): Promise<string> {
  await writeFile(
    file,
    await sharp({ create: { width: 900, height: 600, channels: 3, background: color } })
      .jpeg()
      .toBuffer(),
  );
  return file;
}

describe('search', () => {
  let session: E2eSession;
  let page: Page;
  let url: string;
  /** Every `search.query` the page sent, in order. */
  const searches: string[] = [];

  const box = () => page.getByRole('searchbox', { name: 'Search your library' });

  beforeAll(async () => {
    session = await startSession();
    page = session.page;
    url = session.nook.url;
    await completeSetup(page, url);
    const files = await Promise.all(
      [
        ['sunset.jpg', '#d9822b'],
        ['sunrise.jpg', '#f2c14e'],
        ['harbour.jpg', '#2f6f9f'],
      ].map(([name, color]) => photo(path.join(session.filesDir, name!), color!)),
    );
    await page.locator('input[type="file"]').first().setInputFiles(files);
    await page.locator('[data-asset-id][data-status="ready"]').nth(2).waitFor({ timeout: 60_000 });
    page.on('request', (request) => {
      if (request.url().includes('search.query')) searches.push(decodeURIComponent(request.url()));
    });
  });

  afterAll(async () => {
    await session?.close();
  });

  /** A fresh search page with the box focused and nothing typed. */
  async function openSearch(): Promise<void> {
    await page.goto(`${url}/search`);
    await page.getByText('Type a word, or pick a filter').waitFor();
    await box().focus();
  }

  it('opens a result with one click right after typing, and the viewer stays open', async () => {
    await openSearch();
    await box().pressSequentially('sunset');
    const result = page.getByRole('button', { name: 'Open sunset.jpg' });
    await result.waitFor();
    const sent = searches.length;
    // Clicking a result takes the focus from the box, which fires the form's change event on the way.
    await result.click();
    const viewer = page.getByRole('dialog', { name: 'sunset.jpg' });
    await viewer.waitFor();
    // Nothing is left to happen: a search the blur set off would leave within its 200 ms debounce and
    // land soon after, replacing the results under the viewer. Waiting for that absence takes time.
    await page.waitForTimeout(1500);
    expect(await viewer.isVisible()).toBe(true);
    expect(await viewer.getByText('1 / 1').isVisible()).toBe(true);
    expect(searches.slice(sent)).toEqual([]);
    await page.keyboard.press('Escape');
    await viewer.waitFor({ state: 'detached' });
    expect(await box().inputValue()).toBe('sunset');
  });

  it('keeps the viewer open when the search typed before the click lands with the same results', async () => {
    await openSearch();
    await box().pressSequentially('sunse');
    await page.getByRole('status').filter({ hasText: '1 result' }).waitFor();
    // One more letter and a click at once: the click opens a result of "sunse" while "sunset" is
    // still on its way; its answer (the same one photo) replaces the list under the open viewer.
    const answered = page.waitForResponse((response) =>
      decodeURIComponent(response.url()).includes('"text":"sunset"'),
    );
    await box().press('t');
    await page.getByRole('button', { name: 'Open sunset.jpg' }).click();
    const viewer = page.getByRole('dialog', { name: 'sunset.jpg' });
    await viewer.waitFor();
    await (await answered).finished();
    await page.evaluate('new Promise(requestAnimationFrame)');
    await expect
      .poll(() => page.getByRole('region', { name: 'Results', exact: true }).getAttribute('aria-busy'))
      .toBe('false');
    expect(await viewer.isVisible()).toBe(true);
    await shoot(page, 'search-viewer-1440', { viewport: desktop });
    await shoot(page, 'search-viewer-390', { viewport: phone, dark: true });
    await page.setViewportSize(desktop);
    await page.emulateMedia({ colorScheme: 'light' });
    await page.keyboard.press('Escape');
    await viewer.waitFor({ state: 'detached' });
  });

  it('still searches again when the words change, and on a phone', async () => {
    await openSearch();
    await box().pressSequentially('sun');
    await page.getByRole('status').filter({ hasText: '2 results' }).waitFor();
    await box().press('r');
    await page.getByRole('status').filter({ hasText: '1 result' }).waitFor();
    await page.getByRole('button', { name: 'Open sunrise.jpg' }).waitFor();
    await shoot(page, 'search-typed-1440', { viewport: desktop });
    await shoot(page, 'search-typed-390', { viewport: phone, dark: true });
    await page.setViewportSize(desktop);
    await page.emulateMedia({ colorScheme: 'light' });
    expect(session.pageErrors).toEqual([]);
  });
});
