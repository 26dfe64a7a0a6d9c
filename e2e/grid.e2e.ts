// The photo grid in Chromium over a library a year deep: a fling shows boxes and lands on tiles, the date
// scrubber jumps by pointer and keys, the keyboard walks the tiles in the order they are shown.
import { writeFile } from 'node:fs/promises';
import path from 'node:path';
import type { Page } from 'playwright-core';
import sharp from 'sharp';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { completeSetup, desktop, phone, shoot, startSession, type E2eSession } from './harness';

const MONTHS = 12;
const PER_MONTH = 20;
const monthNames = [
  'January',
  'February',
  'March',
  'April',
  'May',
  'June',
  'July',
  'August',
  'September',
  'October',
  'November',
  'December',
];

/** Photo `index` of month `month` (1–12 of 2023), named after both, with the date in its EXIF. */
async function photo(dir: string, month: number, index: number): Promise<string> {
  const name = `m${String(month).padStart(2, '0')}-${String(index).padStart(2, '0')}.jpg`;
  const wide = index % 3 !== 0;
  const image = await sharp({
    create: {
      width: wide ? 480 : 320,
      height: wide ? 320 : 480,
      channels: 3,
      background: { r: (month * 20) % 256, g: (index * 12) % 256, b: 160 },
    },
  })
    .withExif({
      IFD2: {
        DateTimeOriginal: `2023:${String(month).padStart(2, '0')}:${String(index + 1).padStart(2, '0')} 10:00:00`,
      },
    })
    .jpeg()
    .toBuffer();
  const file = path.join(dir, name);
  await writeFile(file, image);
  return file;
}

describe('photo grid', () => {
  let session: E2eSession;
  let page: Page;
  let url: string;

  const scrubber = () => page.getByRole('slider', { name: 'Jump to a date' });

  /** Whether the element is inside the window, below the sticky app header. */
  const inView = (selector: string) =>
    page.locator(selector).evaluateAll((elements) =>
      elements.some((element) => {
        const box = (
          element as unknown as { getBoundingClientRect(): { top: number; bottom: number } }
        ).getBoundingClientRect();
        return box.bottom > 56 && box.top < (globalThis as unknown as { innerHeight: number }).innerHeight;
      }),
    );

  beforeAll(async () => {
    session = await startSession();
    page = session.page;
    url = session.nook.url;
  });

  afterAll(async () => {
    await session?.close();
  });

  it('takes a year of photos, 20 a month', async () => {
    await completeSetup(page, url);
    const files: string[] = [];
    for (let month = 1; month <= MONTHS; month++)
      for (let index = 0; index < PER_MONTH; index++) files.push(await photo(session.filesDir, month, index));
    await page.locator('input[type="file"]').first().setInputFiles(files);
    // Every photo processed, with its month from EXIF: asked of the API, since the grid only holds what is near the screen.
    await expect
      .poll(
        async () => {
          const response = await page.request.get(
            `${url}/trpc/assets.list?input=${encodeURIComponent(JSON.stringify({ limit: 500 }))}`,
          );
          const body = (await response.json()) as {
            result: { data: { items: { status: string }[] } };
          };
          const items = body.result.data.items;
          return items.length === MONTHS * PER_MONTH && items.every((item) => item.status === 'ready');
        },
        { timeout: 150_000, interval: 1000 },
      )
      .toBe(true);
  });

  it('shows boxes during a fling and lands on tiles, thumbnails and the month where it stopped', async () => {
    await page.goto(url);
    await page.getByRole('button', { name: 'Open m12-19.jpg' }).waitFor();
    await expect.poll(() => scrubber().getAttribute('aria-valuemax')).toBe(String(MONTHS - 1));
    await page.mouse.move(700, 500);
    let boxes = 0;
    // Down to the end, a good two screens a step.
    for (let step = 0, last = -1; step < 12; step++) {
      const y = await page.evaluate<number>('scrollY');
      if (y === last) break;
      last = y;
      await page.mouse.wheel(0, 2400);
      // Two frames on: the grid has seen the scroll and drawn what it draws while flinging.
      boxes = Math.max(
        boxes,
        await page.evaluate(
          `new Promise((resolve) => requestAnimationFrame(() => requestAnimationFrame(() =>
            resolve(document.querySelectorAll('.box').length))))`,
        ),
      );
    }
    expect(boxes).toBeGreaterThan(0);
    // At the bottom: January's photos, as tiles with their thumbnails, and the scrubber says January.
    await page.getByRole('button', { name: 'Open m01-00.jpg' }).waitFor();
    await expect.poll(() => inView('[data-asset-id]')).toBe(true);
    expect(await page.locator('.box').count()).toBe(0);
    await expect
      .poll(() =>
        page
          .locator('[data-status="ready"] img')
          .evaluateAll(
            (images) =>
              (images as unknown as { complete: boolean; naturalWidth: number }[]).filter(
                (image) => image.complete && image.naturalWidth > 0,
              ).length,
          ),
      )
      .toBeGreaterThan(0);
    await expect.poll(() => scrubber().getAttribute('aria-valuetext')).toBe('January 2023');
    await shoot(page, 'grid-bottom-1440', { viewport: desktop });
  });

  it('jumps to a month with the scrubber, by pointer and by keys', async () => {
    await page.evaluate('window.scrollTo(0, 0)');
    await expect.poll(() => scrubber().getAttribute('aria-valuetext')).toBe('December 2023');
    const bar = (await scrubber().boundingBox())!;
    await page.mouse.click(bar.x + bar.width / 2, bar.y + bar.height * 0.5);
    await expect.poll(() => scrubber().getAttribute('aria-valuetext')).not.toBe('December 2023');
    const landed = (await scrubber().getAttribute('aria-valuetext'))!;
    expect(landed).toMatch(/^(May|June|July) 2023$/);
    // The month pointed at starts right under the app header, and loads its tiles; it stays there once the
    // month above it, sized by estimate until then, has loaded too.
    await page.getByRole('heading', { name: new RegExp(landed) }).waitFor();
    const month = monthNames.indexOf(landed.split(' ')[0]!) + 1;
    const first = `m${String(month).padStart(2, '0')}-19.jpg`;
    const above = `m${String(month + 1).padStart(2, '0')}-00.jpg`;
    await page.getByRole('button', { name: `Open ${first}` }).waitFor();
    await page.getByRole('button', { name: `Open ${above}` }).waitFor({ state: 'attached' });
    await page.evaluate(
      'new Promise((resolve) => requestAnimationFrame(() => requestAnimationFrame(resolve)))',
    );
    expect(await inView(`[data-asset-id]:has([aria-label="Open ${first}"])`)).toBe(true);
    expect(await scrubber().getAttribute('aria-valuetext')).toBe(landed);

    await scrubber().focus();
    await page.keyboard.press('ArrowDown');
    await expect.poll(() => scrubber().getAttribute('aria-valuetext')).toBe(`${monthNames[month - 2]} 2023`);
    await page.keyboard.press('ArrowUp');
    await page.keyboard.press('ArrowUp');
    await expect.poll(() => scrubber().getAttribute('aria-valuetext')).toBe(`${monthNames[month]} 2023`);
    await page.keyboard.press('PageUp');
    await expect.poll(() => scrubber().getAttribute('aria-valuetext')).toBe('December 2023');
    await shoot(page, 'grid-scrubbed-1440', { viewport: desktop });
  });

  it('walks the tiles with the keyboard in the order they are shown, and opens one', async () => {
    await page.goto(url);
    const newest = page.getByRole('button', { name: 'Open m12-19.jpg' });
    await newest.focus();
    // Each tile: open, select, share; then the next tile to its right.
    await page.keyboard.press('Tab');
    expect(await page.evaluate('document.activeElement.getAttribute("aria-label")')).toBe(
      'Select m12-19.jpg',
    );
    await page.keyboard.press('Tab');
    await page.keyboard.press('Tab');
    expect(await page.evaluate('document.activeElement.getAttribute("aria-label")')).toBe('Open m12-18.jpg');
    await page.keyboard.press('Enter');
    const viewer = page.getByRole('dialog', { name: 'm12-18.jpg' });
    await viewer.waitFor();
    await page.keyboard.press('Escape');
    await viewer.waitFor({ state: 'detached' });
    expect(await page.evaluate('document.activeElement.getAttribute("aria-label")')).toBe('Open m12-18.jpg');
  });

  it('scrolls and scrubs on a phone', async () => {
    await page.setViewportSize(phone);
    await page.goto(url);
    await page.getByRole('button', { name: 'Open m12-19.jpg' }).waitFor();
    await page.mouse.move(200, 400);
    await page.mouse.wheel(0, 3000);
    await expect.poll(() => inView('[data-asset-id]')).toBe(true);
    await expect.poll(() => page.locator('.box').count()).toBe(0);
    // The slim handle at the right edge drags through the year; the page lands on tiles where it is let go.
    const before = await scrubber().getAttribute('aria-valuetext');
    const handle = (await page.locator('.scrub .thumb').boundingBox())!;
    const bar = (await scrubber().boundingBox())!;
    await page.mouse.move(handle.x + handle.width / 2, handle.y + handle.height / 2);
    await page.mouse.down();
    await page.mouse.move(handle.x + handle.width / 2, bar.y + bar.height * 0.8, { steps: 8 });
    const pointed = await page.locator('.scrub .tip').textContent();
    await page.mouse.up();
    expect(pointed).not.toBe(before);
    // It stays there while the months it passed load and take their real heights above it.
    await expect.poll(() => inView('[data-asset-id]')).toBe(true);
    await expect.poll(() => page.locator('.box').count()).toBe(0);
    // The months passed load in their own time (nothing on screen says when), each correcting the
    // scroll as it takes its height: it must settle on the month let go, not on a neighbour.
    await page.waitForTimeout(1500);
    await expect.poll(() => scrubber().getAttribute('aria-valuetext'), { timeout: 10_000 }).toBe(pointed);
    const month = monthNames.indexOf(pointed!.split(' ')[0]!) + 1;
    const newest = `m${String(month).padStart(2, '0')}-19.jpg`;
    await expect.poll(() => inView(`[data-asset-id]:has([aria-label="Open ${newest}"])`)).toBe(true);
    await shoot(page, 'grid-390', { viewport: phone });
    await shoot(page, 'grid-390-dark', { viewport: phone, dark: true });
    await page.setViewportSize(desktop);
    await page.emulateMedia({ colorScheme: 'light' });
    expect(session.pageErrors).toEqual([]);
  });
});
