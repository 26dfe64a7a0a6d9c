// The photo dashboard in Chromium against a real `nook start`: shell and navigation, drag-and-drop upload, grid, viewer, search, bulk actions.
import { randomBytes } from 'node:crypto';
import { readFile, writeFile } from 'node:fs/promises';
import path from 'node:path';
import type { Page } from 'playwright-core';
import sharp from 'sharp';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { video } from '../test/media-files';
import { unzip } from '../test/zip';
import {
  admin,
  completeSetup,
  desktop,
  openMenu,
  phone,
  shoot,
  startSession,
  type E2eSession,
} from './harness';

/** A JPEG with a camera and a date in its EXIF, so it lands in a known month of the timeline. */
async function photo(file: string, color: string, taken: string, size = { width: 900, height: 600 }) {
  const image = await sharp({ create: { ...size, channels: 3, background: color } })
    .withExif({ IFD0: { Make: 'Nook', Model: 'Test Camera' }, IFD2: { DateTimeOriginal: taken } })
    .jpeg()
    .toBuffer();
  await writeFile(file, image);
  return file;
}

/** Drops files on the page the way a file manager does: a drag carrying File objects. */
async function dropFiles(page: Page, files: string[]): Promise<void> {
  const payload = await Promise.all(
    files.map(async (file) => ({
      name: path.basename(file),
      data: (await readFile(file)).toString('base64'),
    })),
  );
  const transfer = await page.evaluateHandle((items) => {
    // Runs in the page, where the DOM's DataTransfer and File exist.
    const scope = globalThis as unknown as {
      DataTransfer: new () => { items: { add(file: unknown): void } };
      File: new (parts: unknown[], name: string, options: { type: string }) => unknown;
    };
    const dataTransfer = new scope.DataTransfer();
    for (const item of items) {
      const bytes = Uint8Array.from(atob(item.data), (char) => char.charCodeAt(0));
      dataTransfer.items.add(new scope.File([bytes], item.name, { type: 'image/jpeg' }));
    }
    return dataTransfer;
  }, payload);
  await page.dispatchEvent('main', 'dragenter', { dataTransfer: transfer });
  await page.dispatchEvent('main', 'dragover', { dataTransfer: transfer });
  await page.dispatchEvent('main', 'drop', { dataTransfer: transfer });
}

describe('photo dashboard', () => {
  let session: E2eSession;
  let page: Page;
  let url: string;

  /** Both sizes the issue asks for, light at desktop size and dark on the phone. */
  async function shots(name: string): Promise<void> {
    await shoot(page, `${name}-1440`, { viewport: desktop });
    await shoot(page, `${name}-390`, { viewport: phone, dark: true });
    await page.setViewportSize(desktop);
    await page.emulateMedia({ colorScheme: 'light' });
  }

  beforeAll(async () => {
    session = await startSession();
    page = session.page;
    url = session.nook.url;
    await page.setViewportSize(desktop);
  });

  afterAll(async () => {
    await session?.close();
  });

  it('navigates by the sidebar on desktop and the bottom bar with a More sheet on phones', async () => {
    await completeSetup(page, url);
    const sidebar = page.locator('aside').getByRole('navigation', { name: 'Main' });
    await sidebar.getByRole('link', { name: 'Search' }).click();
    await page.waitForURL(`${url}/search`);
    await expect
      .poll(() => sidebar.getByRole('link', { name: 'Search' }).getAttribute('aria-current'))
      .toBe('page');
    await shots('search-empty');

    await page.setViewportSize(phone);
    const bottom = page.locator('nav.bottom-bar');
    await bottom.getByRole('link', { name: 'Library' }).click();
    await page.waitForURL(`${url}/`);
    await bottom.getByRole('button', { name: 'More' }).click();
    const sheet = page.getByRole('dialog', { name: 'More' });
    await sheet.getByRole('link', { name: 'Backups' }).waitFor();
    await shoot(page, 'more-sheet-390', { viewport: phone });
    await sheet.getByRole('link', { name: 'Settings' }).click();
    await page.waitForURL(`${url}/settings`);
    await sheet.waitFor({ state: 'hidden' });
    await page.setViewportSize(desktop);

    // `?` lists the shortcuts of the page in view.
    await page.goto(url);
    await page.getByRole('heading', { name: 'Library', exact: true }).waitFor();
    await page.keyboard.press('?');
    const help = page.getByRole('dialog', { name: 'Keyboard shortcuts' });
    await help.getByText('Show keyboard shortcuts').waitFor();
    await shoot(page, 'shortcuts-1440', { viewport: desktop });
    await page.keyboard.press('Escape');
    await help.waitFor({ state: 'detached' });
  });

  it('takes photos dropped on the page and shows them by month with thumbnails', async () => {
    await page.goto(url);
    await page.getByRole('heading', { name: 'Your library is empty' }).waitFor();
    await shots('library-empty');
    const files = [
      await photo(path.join(session.filesDir, 'harbour.jpg'), '#2f6f9f', '2024:07:14 10:00:00'),
      await photo(path.join(session.filesDir, 'meadow.jpg'), '#4f8f3f', '2024:07:02 09:00:00', {
        width: 600,
        height: 900,
      }),
      await photo(path.join(session.filesDir, 'snow.jpg'), '#d8dee6', '2023:01:20 12:00:00'),
      await photo(path.join(session.filesDir, 'sunset.jpg'), '#d9822b', '2023:01:05 18:00:00', {
        width: 1200,
        height: 500,
      }),
    ];
    await dropFiles(page, files);
    // Every thumbnail decoded, under the months their EXIF dates say.
    await expect
      .poll(
        () =>
          page
            .locator('[data-status="ready"] img')
            .evaluateAll(
              (images) =>
                (images as unknown as { complete: boolean; naturalWidth: number }[]).filter(
                  (image) => image.complete && image.naturalWidth > 0,
                ).length,
            ),
        { timeout: 60_000 },
      )
      .toBe(4);
    await page.getByRole('heading', { name: /July 2024/ }).waitFor();
    await page.getByRole('heading', { name: /January 2023/ }).waitFor();
    await shots('library');
    await page.getByRole('button', { name: 'Show as squares' }).click();
    await shots('library-squares');
    await page.getByRole('button', { name: 'Show with true proportions' }).click();
  });

  it('opens the viewer, moves with the keys, shows details and favorites', async () => {
    await page.getByRole('button', { name: 'Open harbour.jpg' }).click();
    const viewer = page.getByRole('dialog', { name: 'harbour.jpg' });
    await viewer.locator('img').waitFor();
    await page.keyboard.press('ArrowRight');
    await page.getByRole('dialog', { name: 'meadow.jpg' }).waitFor();
    await page.keyboard.press('ArrowLeft');
    await viewer.waitFor();
    await viewer.getByRole('button', { name: 'Details' }).click();
    await viewer.getByText('Nook Test Camera').waitFor();
    await viewer.getByText('harbour.jpg').last().waitFor();
    await viewer.getByRole('button', { name: 'Favorite', exact: true }).click();
    await viewer.getByRole('button', { name: 'Unfavorite' }).waitFor();
    await shots('viewer');
    await page.keyboard.press('Escape');
    await viewer.waitFor({ state: 'detached' });
    await page.locator('[data-asset-id]', { hasText: 'harbour.jpg' }).getByText('Favorite').waitFor();
  });

  it('finds photos as you type and narrows them with filters', async () => {
    await page.locator('aside').getByRole('link', { name: 'Search' }).click();
    const box = page.getByRole('searchbox', { name: 'Search your library' });
    await box.fill('sun');
    await page.getByRole('status').filter({ hasText: '1 result' }).waitFor();
    await page.locator('[data-asset-id]', { hasText: 'sunset.jpg' }).waitFor();
    await box.fill('');
    await page.getByLabel('Favorites only').check();
    await page.getByRole('status').filter({ hasText: '1 result' }).waitFor();
    await page.locator('[data-asset-id]', { hasText: 'harbour.jpg' }).waitFor();
    await shots('search-results');
    await page.getByLabel('Favorites only').uncheck();
    await box.fill('zzzz-nothing');
    await page.getByText('Nothing matches.').waitFor();
    await shots('search-nothing');
  });

  it('favorites a selection in one request and downloads it as one zip', async () => {
    await page.locator('aside').getByRole('link', { name: 'Library' }).click();
    await page.locator('[data-asset-id]').first().waitFor();
    await page.getByRole('checkbox', { name: 'Select meadow.jpg' }).click();
    await page.getByRole('checkbox', { name: 'Select snow.jpg' }).click();
    const toolbar = page.getByRole('toolbar', { name: 'Selected items' });
    const favoriteRequests: string[] = [];
    page.on('request', (request) => {
      if (request.url().includes('/trpc/assets.favorite')) favoriteRequests.push(request.url());
    });
    await toolbar.getByRole('button', { name: 'Favorite', exact: true }).click();
    await page.locator('[data-asset-id]', { hasText: 'meadow.jpg' }).getByText('Favorite').waitFor();
    await page.locator('[data-asset-id]', { hasText: 'snow.jpg' }).getByText('Favorite').waitFor();
    expect(favoriteRequests).toHaveLength(1);

    const [download] = await Promise.all([
      page.waitForEvent('download'),
      toolbar.getByRole('button', { name: 'Download' }).click(),
    ]);
    expect(download.suggestedFilename()).toMatch(/^Nook \d{4}-\d{2}-\d{2} \(2 items\)\.zip$/);
    const entries = await unzip(await readFile((await download.path())!));
    expect([...entries.keys()].sort()).toEqual(['meadow.jpg', 'snow.jpg']);

    await toolbar.getByRole('button', { name: 'Unfavorite' }).click();
    await expect
      .poll(() => page.locator('[data-asset-id]', { hasText: 'meadow.jpg' }).getByText('Favorite').count())
      .toBe(0);
    await page.keyboard.press('Escape');
    await toolbar.waitFor({ state: 'detached' });
  });

  it('selects by a long press and a slide of the finger on a touch screen', async () => {
    await page.locator('[data-asset-id]').first().waitFor();
    const cdp = await page.context().newCDPSession(page);
    await cdp.send('Emulation.setTouchEmulationEnabled', { enabled: true, maxTouchPoints: 1 });
    const centre = async (name: string) => {
      const box = (await page.locator('[data-asset-id]', { hasText: name }).boundingBox())!;
      return { x: box.x + box.width / 2, y: box.y + box.height / 2 };
    };
    const from = await centre('harbour.jpg');
    const to = await centre('snow.jpg');
    const touch = (type: 'touchStart' | 'touchMove' | 'touchEnd', points: { x: number; y: number }[]) =>
      cdp.send('Input.dispatchTouchEvent', { type, touchPoints: points });
    try {
      await touch('touchStart', [from]);
      await page.getByRole('status').filter({ hasText: '1 selected' }).waitFor();
      for (let step = 1; step <= 6; step++)
        await touch('touchMove', [
          { x: from.x + ((to.x - from.x) * step) / 6, y: from.y + ((to.y - from.y) * step) / 6 },
        ]);
      await touch('touchEnd', []);
      await page.getByRole('status').filter({ hasText: '3 selected' }).waitFor();
      expect(await page.getByRole('dialog').count()).toBe(0);
      // A quick tap while selecting toggles, it does not open the viewer.
      const sunset = await centre('sunset.jpg');
      await touch('touchStart', [sunset]);
      await touch('touchEnd', []);
      await page.getByRole('status').filter({ hasText: '4 selected' }).waitFor();
      await shots('selection-touch');
    } finally {
      await cdp.send('Emulation.setTouchEmulationEnabled', { enabled: false });
    }
    await page.keyboard.press('Escape');
    await page.getByRole('toolbar', { name: 'Selected items' }).waitFor({ state: 'detached' });
  });

  it('selects a range with shift-click and moves it to the trash, with undo', async () => {
    await page.locator('aside').getByRole('link', { name: 'Library' }).click();
    await page.locator('[data-asset-id]').first().waitFor();
    await page.getByRole('checkbox', { name: 'Select harbour.jpg' }).click();
    await page.getByRole('checkbox', { name: 'Select snow.jpg' }).click({ modifiers: ['Shift'] });
    await page.getByRole('status').filter({ hasText: '3 selected' }).waitFor();
    await shots('selection');
    await page
      .getByRole('toolbar', { name: 'Selected items' })
      .getByRole('button', { name: 'Delete' })
      .click();
    await page.getByText('Moved 3 items to the trash.').waitFor();
    await expect.poll(() => page.locator('[data-asset-id]').count()).toBe(1);
    await page.getByRole('button', { name: 'Undo' }).click();
    await expect.poll(() => page.locator('[data-asset-id]').count()).toBe(4);
    await page.getByRole('checkbox', { name: 'Select sunset.jpg' }).click();
    await page
      .getByRole('toolbar', { name: 'Selected items' })
      .getByRole('button', { name: 'Delete' })
      .click();
    await expect.poll(() => page.locator('[data-asset-id]').count()).toBe(3);
  });

  it('sends a large file resumably over tus, and retries a failed upload', async () => {
    await page.goto(url);
    await page.locator('[data-asset-id]').first().waitFor();
    const big = path.join(session.filesDir, 'big-scan.bin');
    await writeFile(big, randomBytes(17 * 1024 * 1024));
    const created = page.waitForRequest(
      (request) => request.url().endsWith('/api/uploads') && request.method() === 'POST',
    );
    await page.locator('input[type="file"]').first().setInputFiles(big);
    await created;
    const panel = page.getByRole('region', { name: /upload/i });
    await panel.locator('li[data-state="done"]', { hasText: 'big-scan.bin' }).waitFor({ timeout: 60_000 });
    await page.locator('[data-asset-id]', { hasText: 'big-scan.bin' }).waitFor();

    // The server is unreachable for one upload: it fails with a reason, and Retry sends it once it is back.
    await page.route('**/api/assets', (route) => route.abort('connectionrefused'));
    const small = await photo(path.join(session.filesDir, 'harbour-2.jpg'), '#123456', '2022:05:01 08:00:00');
    await page.locator('input[type="file"]').first().setInputFiles(small);
    const failed = panel.locator('li[data-state="failed"]', { hasText: 'harbour-2.jpg' });
    await failed.waitFor();
    await shots('upload-failed');
    await page.unroute('**/api/assets');
    await failed.getByRole('button', { name: 'Retry harbour-2.jpg' }).click();
    await page.locator('[data-asset-id]', { hasText: 'harbour-2.jpg' }).waitFor({ timeout: 60_000 });
  });

  it('takes files dropped on any page, and shows them in the library afterwards', async () => {
    await page.goto(`${url}/albums`);
    await page.getByRole('heading', { name: 'Albums', exact: true }).waitFor();
    await dropFiles(page, [
      await photo(path.join(session.filesDir, 'dropped-elsewhere.jpg'), '#8a3ffc', '2021:03:03 10:00:00'),
    ]);
    const panel = page.getByRole('region', { name: /upload/i });
    await panel
      .locator('li[data-state="done"]', { hasText: 'dropped-elsewhere.jpg' })
      .waitFor({ timeout: 60_000 });
    await page.goto(url);
    await page.locator('[data-asset-id]', { hasText: 'dropped-elsewhere.jpg' }).waitFor({ timeout: 60_000 });
  });

  it('plays a video from any point over Range requests, and swipes on from it', async () => {
    const clip = path.join(session.filesDir, 'beach-walk.mp4');
    await video(clip, { codec: 'h264', width: 640, height: 360, seconds: 6 });
    await dropFiles(page, [clip]);
    await page
      .locator('[data-asset-id][data-status="ready"]', { hasText: 'beach-walk.mp4' })
      .waitFor({ timeout: 90_000 });
    const partial: string[] = [];
    page.on('response', (response) => {
      if (response.url().includes('/original') && response.status() === 206)
        partial.push(response.headers()['content-range'] ?? '');
    });
    await page.getByRole('button', { name: 'Open beach-walk.mp4' }).click();
    const viewer = page.getByRole('dialog', { name: 'beach-walk.mp4' });
    const player = viewer.locator('video');
    await expect
      .poll(() => player.evaluate((element) => (element as unknown as { readyState: number }).readyState), {
        timeout: 20_000,
      })
      .toBeGreaterThanOrEqual(1);
    await player.evaluate((element) => {
      const clipElement = element as unknown as { muted: boolean; currentTime: number };
      clipElement.muted = true;
      clipElement.currentTime = 4;
    });
    await expect
      .poll(() => player.evaluate((element) => (element as unknown as { currentTime: number }).currentTime))
      .toBeGreaterThanOrEqual(4);
    expect(partial.length).toBeGreaterThan(0);
    expect(partial[0]).toMatch(/^bytes 0-\d+\/\d+$/);
    await shots('viewer-video');

    // A swipe across the picture (above the player's controls) moves to the next asset.
    const box = (await player.boundingBox())!;
    await page.mouse.move(box.x + box.width * 0.8, box.y + box.height * 0.3);
    await page.mouse.down();
    await page.mouse.move(box.x + box.width * 0.2, box.y + box.height * 0.3, { steps: 6 });
    await page.mouse.up();
    await viewer.waitFor({ state: 'detached' });
    await page.getByRole('dialog').waitFor();
    await page.keyboard.press('Escape');
    await page.getByRole('dialog').waitFor({ state: 'detached' });
  });

  it('signs out', async () => {
    await openMenu(page, admin.displayName);
    await page.getByRole('button', { name: 'Sign out' }).click();
    await page.waitForURL(`${url}/login`);
    expect(session.pageErrors).toEqual([]);
  });
});
