// The dashboard in Chromium against a real `nook start`, signed in: empty state, uploads, duplicates, failures, outages.
import { randomBytes } from 'node:crypto';
import { writeFile } from 'node:fs/promises';
import path from 'node:path';
import type { Page } from 'playwright-core';
import sharp from 'sharp';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  completeSetup,
  desktop,
  phone,
  shoot as shootPage,
  startSession,
  type E2eSession,
  type Nook,
} from './harness';

describe('dashboard', () => {
  let filesDir: string;
  let nook: Nook;
  let url: string;
  let page: Page;
  let pageErrors: string[];
  let session: E2eSession;

  const tiles = () => page.locator('[data-asset-id]');
  const fileInput = () => page.locator('input[type="file"]').first();

  const shoot = (name: string, options: Parameters<typeof shootPage>[2] = {}) =>
    shootPage(page, name, options);

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
    session = await startSession();
    ({ nook, page, filesDir, pageErrors } = session);
    url = nook.url;
  });

  afterAll(async () => {
    await session?.close();
  });

  it('welcomes an empty library once the administrator exists', async () => {
    await completeSetup(page, url);
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

  it('says when the library cannot be loaded, and recovers on retry', async () => {
    // Only the library's own calls fail (batched with the buckets), so the page is past the sign-in check and shows its own error.
    await page.route('**/trpc/*assets.list*', (route) => route.abort('connectionrefused'));
    await page.reload();
    const retry = page.getByRole('button', { name: 'Try again' });
    await retry.waitFor();
    await page.getByRole('heading', { name: "Couldn't load your library" }).waitFor();
    await shoot('error-light');
    await shoot('error-dark', { dark: true });
    await page.unroute('**/trpc/*assets.list*');
    await retry.click();
    await thumbnailsLoaded(2);
    expect(await tiles().count()).toBe(3);
  });

  it('raised no errors in the page', () => {
    expect(pageErrors).toEqual([]);
  });
});
