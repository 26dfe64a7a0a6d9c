// The management pages in Chromium against a real `nook start`: albums, trash, duplicates, folders, stats,
// jobs, libraries (a real watched folder) and settings, with screenshots of each on a desktop and a phone.
import { randomBytes } from 'node:crypto';
import { mkdir, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import type { Page } from 'playwright-core';
import sharp from 'sharp';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { admin, completeSetup, desktop, phone, shoot, startSession, type E2eSession } from './harness';

/** The sizes the issue asks every page to be looked at in. */

describe('management pages', () => {
  let session: E2eSession;
  let page: Page;
  let url: string;
  let watched: string;

  /** Desktop and phone, light; the page is left at the desktop size. */
  async function shootBoth(name: string): Promise<void> {
    await shoot(page, `manage-${name}-desktop`, { viewport: desktop, fullPage: true });
    await shoot(page, `manage-${name}-phone`, { viewport: phone, fullPage: true });
    await page.setViewportSize(desktop);
  }

  async function open(pathname: string, heading: string): Promise<void> {
    await page.goto(`${url}${pathname}`);
    await page.getByRole('heading', { name: heading, exact: true }).waitFor();
  }

  /** Uploads through the real HTTP API with the browser's own session cookie. */
  async function upload(name: string, data: Buffer): Promise<string> {
    const response = await page.request.post(`${url}/api/assets`, {
      headers: { origin: url },
      multipart: { file: { name, mimeType: 'image/jpeg', buffer: data } },
    });
    expect(response.status()).toBe(201);
    return ((await response.json()) as { id: string }[])[0]!.id;
  }

  const photo = (background: string, width = 1200, height = 800) =>
    sharp({ create: { width, height, channels: 3, background } })
      .jpeg()
      .toBuffer();

  beforeAll(async () => {
    session = await startSession();
    page = session.page;
    url = session.nook.url;
    watched = await mkdtemp(path.join(tmpdir(), 'nook-e2e-watched-'));
    await page.setViewportSize(desktop);
    await completeSetup(page, url);
    // Broken first: the worker retries it before giving up, and by the jobs test it has.
    await upload('broken.jpg', randomBytes(8192));
    for (const [name, colour] of [
      ['garden.jpg', '#4a8'],
      ['lake.jpg', '#38c'],
      ['sunset.jpg', '#e85'],
      ['snow.jpg', '#dde'],
    ] as const) {
      await upload(name, await photo(colour));
    }
  });

  afterAll(async () => {
    await session?.close();
    await rm(watched, { recursive: true, force: true });
  });

  it('adds a watched folder whose path is checked first, and indexes the real photo in it', async () => {
    await open('/libraries', 'Libraries');
    await page.getByText('No watched folders yet').waitFor();
    await shootBoth('libraries-empty');

    const pathField = page.getByLabel('Folder on the server');
    await pathField.fill('/no/such/folder');
    await page.getByText('the folder /no/such/folder does not exist', { exact: false }).waitFor();
    expect(await page.getByRole('button', { name: 'Add library' }).isDisabled()).toBe(true);

    // The same picture as an upload, twice, so the duplicates page has a group across libraries.
    await mkdir(path.join(watched, 'backup'));
    await writeFile(path.join(watched, 'garden-copy.jpg'), await photo('#4a8'));
    await writeFile(path.join(watched, 'backup', 'garden.jpg'), await photo('#4a8'));
    await writeFile(path.join(watched, 'meadow.jpg'), await photo('#7b4', 900, 900));
    await pathField.fill(watched);
    await page.getByText(`✓ ${watched} can be read`).waitFor();
    expect(await page.getByTestId('watch-choice').textContent()).toMatch(/filesystem events/);
    await page.getByLabel('Name').fill('Family NAS');
    await page.getByRole('button', { name: 'Add library' }).click();

    const row = page.locator('li[data-library-id]', { hasText: 'Family NAS' });
    await row.waitFor();
    await expect.poll(async () => row.getAttribute('data-state'), { timeout: 30_000 }).toBe('watching');
    await expect
      .poll(async () => row.locator('[data-count="files"]').textContent(), { timeout: 30_000 })
      .toMatch(/^\s*3\b/);
    expect(await row.textContent()).toContain('changes arrive as filesystem events');
    await shootBoth('libraries');

    await row.getByRole('button', { name: 'Rescan Family NAS' }).click();
    await expect.poll(async () => row.textContent(), { timeout: 30_000 }).toMatch(/3 files seen, 0 new/);
  });

  it('lists the duplicate across libraries, and trashing one copy takes it to the trash', async () => {
    await open('/duplicates', 'Duplicates');
    const group = page.locator('li[data-sha256]');
    await group.first().waitFor({ timeout: 30_000 });
    expect(await group.count()).toBe(1);
    expect(await group.textContent()).toContain('3 copies');
    expect(await group.textContent()).toContain('Family NAS');
    await shootBoth('duplicates');

    await group.getByRole('button', { name: 'Move to trash: garden-copy.jpg in Family NAS' }).click();
    await page.getByText('in the trash.').waitFor();
    await expect.poll(() => group.textContent()).toContain('2 copies');
  });

  it('shows the trash with days left, restores a file, and empties the rest', async () => {
    await open('/trash', 'Trash');
    const tile = page.locator('li[data-item-id]', { hasText: 'garden-copy.jpg' });
    await tile.waitFor();
    expect(await tile.textContent()).toContain('30 days left');
    await page.getByText('stay here for 30 days').waitFor();
    await shootBoth('trash');

    await tile.getByRole('button', { name: 'Restore garden-copy.jpg' }).click();
    await page.getByText('One file is back in your library.').waitFor();
    await page.getByText('The trash is empty.').waitFor();
    await shootBoth('trash-empty');

    // Into the trash again (from the duplicates page), then gone for good.
    await open('/duplicates', 'Duplicates');
    await page.getByRole('button', { name: 'Move to trash: garden-copy.jpg in Family NAS' }).click();
    await page.getByText('in the trash.').waitFor();
    await open('/trash', 'Trash');
    await page.locator('li[data-item-id]').first().waitFor();
    await page.getByRole('button', { name: 'Empty trash' }).click();
    await page.getByRole('dialog').getByRole('button', { name: 'Empty trash' }).click();
    await page.getByText('One file was deleted for good.').waitFor();
    await page.getByText('The trash is empty.').waitFor();
  });

  it('creates an album, fills it, picks its cover, renames it and takes a photo out', async () => {
    await open('/albums', 'Albums');
    await page.getByText('You have no albums yet.').waitFor();
    await shootBoth('albums-empty');

    await page.getByLabel('New album name').fill('Summer');
    await page.getByRole('button', { name: 'Create album' }).click();
    await page.getByRole('heading', { name: 'Summer', exact: true }).waitFor();
    await page.getByText('This album is empty.').waitFor();

    await page.getByRole('button', { name: 'Add photos' }).click();
    const picker = page.getByRole('dialog', { name: 'Add to “Summer”' });
    await picker.getByRole('checkbox', { name: 'Select sunset.jpg' }).click();
    await picker.getByRole('checkbox', { name: 'Select snow.jpg' }).click();
    await picker.getByRole('checkbox', { name: 'Select lake.jpg' }).click();
    await shoot(page, 'manage-album-picker-desktop', { viewport: desktop });
    await picker.getByRole('button', { name: 'Add 3 photos' }).click();
    await picker.waitFor({ state: 'detached' });
    await page.getByText('3 photos added.').waitFor();
    const tiles = page.locator('[data-asset-id]');
    await expect.poll(() => tiles.count()).toBe(3);

    // Any photo that is not the cover yet becomes it, from the selection bar.
    const coverId = await page.locator('img.cover').getAttribute('data-cover-id');
    const other = page.locator(`[data-asset-id]:not([data-asset-id="${coverId}"])`).first();
    const otherId = (await other.getAttribute('data-asset-id'))!;
    const otherName = (await other.locator('.tile').getAttribute('aria-label'))!.replace(/^Open /, '');
    const toolbar = page.getByRole('toolbar', { name: 'Selected items' });
    await page.getByRole('checkbox', { name: `Select ${otherName}` }).click();
    await toolbar.getByRole('button', { name: 'Make cover' }).click();
    await page.getByText(`${otherName} is the cover now.`).waitFor();
    await expect.poll(() => page.locator('img.cover').getAttribute('data-cover-id')).toBe(otherId);
    await page.keyboard.press('Escape');
    await toolbar.waitFor({ state: 'detached' });

    await page.getByRole('button', { name: 'Rename' }).click();
    await page.getByLabel('Album name').fill('Summer 2026');
    await page.getByRole('button', { name: 'Save' }).click();
    await page.getByRole('heading', { name: 'Summer 2026', exact: true }).waitFor();

    await page.getByRole('checkbox', { name: 'Select lake.jpg' }).click();
    await toolbar.getByRole('button', { name: 'Remove from album' }).click();
    await page.getByText('taken out of the album').waitFor();
    await expect.poll(() => tiles.count()).toBe(2);
    await page.getByText('2 items').waitFor();
    await shootBoth('album');

    // A photo of the album opens in the viewer, which moves through the album.
    await page.getByRole('button', { name: `Open ${otherName}` }).click();
    const viewer = page.getByRole('dialog', { name: otherName });
    await viewer.locator('img').first().waitFor();
    await shoot(page, 'manage-album-viewer-desktop', { viewport: desktop });
    await viewer.getByRole('button', { name: 'Close' }).click();
    await viewer.waitFor({ state: 'detached' });

    await open('/albums', 'Albums');
    const card = page.locator('li[data-album-id]', { hasText: 'Summer 2026' });
    expect(await card.textContent()).toContain('2 items');
    const cover = card.locator('img');
    await expect
      .poll(() => cover.evaluate((image) => (image as unknown as { naturalWidth: number }).naturalWidth))
      .toBeGreaterThan(0);
    expect(await cover.getAttribute('src')).toContain('/thumbnail');
    await shootBoth('albums');
  });

  it('browses the uploads and the watched folder as folders', async () => {
    await open('/folders', 'Folders');
    // Uploads sit in year/month folders.
    const year = String(new Date().getUTCFullYear());
    const folder = page.locator('li[data-folder]', { hasText: year }).first();
    await folder.waitFor();
    await shootBoth('folders');
    await folder.locator('a').click();
    await page.locator('nav[aria-label="Folder path"]').getByText(year).waitFor();
    const month = String(new Date().getUTCMonth() + 1).padStart(2, '0');
    await page.locator(`li[data-folder="${year}/${month}"] a`).click();
    await page.locator('[data-asset-id]').first().waitFor();
    expect(await page.getByRole('list', { name: 'Files in this folder' }).textContent()).toContain(
      'sunset.jpg',
    );
    // A file opens in the viewer rather than in a new tab.
    await page.locator('[data-asset-id]', { hasText: 'sunset.jpg' }).click();
    const viewer = page.getByRole('dialog', { name: 'sunset.jpg' });
    // Its preview may not be made yet here: the viewer then says so instead of a broken image.
    await viewer.locator('img, [role="alert"]').first().waitFor();
    await page.keyboard.press('Escape');
    await viewer.waitFor({ state: 'detached' });

    await page.getByLabel('Library').selectOption({ label: 'Family NAS' });
    await page.getByRole('list', { name: 'Files in this folder' }).getByText('meadow.jpg').waitFor();
    await shootBoth('folders-library');
  });

  it('charts storage by type and library, growth, disks and dedup savings', async () => {
    await open('/stats', 'Stats');
    await page.getByRole('heading', { name: 'By type' }).waitFor();
    await page.locator('[data-disk="Data"]').waitFor();
    await page.locator('[data-disk="Family NAS"]').waitFor();
    expect(await page.locator('figure.donut svg circle').count()).toBeGreaterThan(1);
    expect(await page.getByRole('list', { name: 'Storage by library' }).textContent()).toContain(
      'Family NAS',
    );
    expect(await page.locator('figure.growth rect').count()).toBeGreaterThan(0);
    // No backup schedule yet: the administrator is told, with the way to the backups page.
    expect(await page.locator('a.backup').textContent()).toContain('set up a schedule');
    // garden.jpg is both uploaded and in the watched folder's backup/: a copy on disk, not a saving.
    expect(await page.getByTestId('duplicate-copies').textContent()).not.toMatch(/^\s*0 B/);
    expect(await page.getByTestId('dedup-savings').textContent()).toMatch(/stored once/);
    await shootBoth('stats');
    await shoot(page, 'manage-stats-dark', { viewport: desktop, dark: true, fullPage: true });
    await page.emulateMedia({ colorScheme: 'light' });

    // A failed call shows its reason and a retry that recovers.
    await page.route('**/trpc/stats.summary*', (route) => route.abort('connectionrefused'));
    await page.reload();
    const retry = page.getByRole('button', { name: 'Try again' });
    await retry.waitFor();
    await shootBoth('stats-error');
    await page.unroute('**/trpc/stats.summary*');
    await retry.click();
    await page.getByRole('heading', { name: 'By type' }).waitFor();
  });

  it('shows queue depths, the failed file with its reason, retries it, and makes missing thumbnails', async () => {
    await open('/jobs', 'Jobs');
    await page.locator('li[data-queue="thumbnail"]').waitFor();
    // Every queue by what it does, not by its name in the queue.
    expect(await page.locator('li[data-queue="backup-verify"] .title').textContent()).toBe('Backup checks');
    const failed = page.locator('li[data-failed-id]', { hasText: 'broken.jpg' });
    await failed.waitFor({ timeout: 150_000 });
    expect((await failed.locator('.reason').textContent())?.trim().length).toBeGreaterThan(0);
    await expect
      .poll(async () =>
        Number(await page.locator('li[data-queue="thumbnail"] [data-count="completed"]').textContent()),
      )
      .toBeGreaterThan(0);
    await shootBoth('jobs');

    await failed.getByRole('button', { name: 'Retry broken.jpg' }).click();
    await page.getByText('One file is queued again.').waitFor();
    await page.getByRole('button', { name: 'Make missing thumbnails' }).click();
    await page.getByText(/already has its thumbnails|queued to have thumbnails made/).waitFor();
  });

  it('keeps the account, shared links, users and audit log in one settings area', async () => {
    await open('/settings', 'Settings');
    const sections = page.getByRole('navigation', { name: 'Settings sections' });
    await page.getByLabel('Display name').fill('Ada Lovelace');
    await page.getByRole('button', { name: 'Save name' }).click();
    await page.getByText('Your display name is saved.').waitFor();
    await page.getByRole('button', { name: 'Ada Lovelace', exact: true }).waitFor();
    await shootBoth('settings');

    await sections.getByRole('link', { name: /Shared links/ }).click();
    await page.getByRole('heading', { name: 'Shared links', exact: true }).waitFor();
    await shootBoth('settings-shares');
    await sections.getByRole('link', { name: /Users/ }).click();
    await page.getByRole('heading', { name: 'Users', exact: true }).waitFor();
    await page.locator(`li[data-username="${admin.username}"]`).waitFor();
    await shootBoth('settings-users');
    await sections.getByRole('link', { name: /Audit log/ }).click();
    await page.getByRole('heading', { name: 'Audit log', exact: true }).waitFor();
    await page.locator('li[data-type]').first().waitFor();
    await shootBoth('settings-audit');
  });

  it('schedules a backup with the cron editor, shows its next runs, and runs it now', async () => {
    const target = await mkdtemp(path.join(tmpdir(), 'nook-e2e-backup-'));
    try {
      await open('/backups', 'Backups');
      await page.getByText('No backup schedules yet.').waitFor();
      await page.getByText('No runs yet.').waitFor();
      await shootBoth('backups-empty');

      await page.getByRole('button', { name: 'New schedule' }).click();
      await page.getByLabel('Name').fill('USB disk');
      await page.getByLabel('Target folder').fill('/no/such/disk');
      await page
        .getByText('The target /no/such/disk is missing (is the disk unplugged', { exact: false })
        .waitFor();
      await page.getByLabel('Target folder').fill(target);
      await page.getByText(`✓ Nook can write to ${target}.`).waitFor();

      await page.getByLabel('Time zone').fill('UTC');
      await page.getByLabel('Runs', { exact: true }).selectOption('custom');
      await page.getByLabel('Cron expression').fill('61 * * * *');
      await page
        .getByTestId('next-runs')
        .getByText(/invalid cron expression/i)
        .waitFor();
      expect(await page.getByRole('button', { name: 'Create schedule' }).isDisabled()).toBe(true);

      await page.getByLabel('Runs', { exact: true }).selectOption('weekly');
      await page.getByLabel('On', { exact: true }).selectOption('Sunday');
      await page.getByLabel('At', { exact: true }).fill('04:30');
      const nextRuns = page.getByTestId('next-runs').locator('li');
      await expect.poll(() => nextRuns.count()).toBe(5);
      for (const run of await nextRuns.allTextContents()) expect(run).toMatch(/4:30\s?AM/);
      await shoot(page, 'manage-backups-form-desktop', { viewport: desktop, fullPage: true });
      await page.getByRole('button', { name: 'Create schedule' }).click();

      const card = page.locator('li[data-schedule-id]', { hasText: 'USB disk' });
      await card.waitFor();
      expect(await card.textContent()).toContain('Every Sunday at 04:30 (UTC)');
      await page.getByText('Schedule created.').waitFor();
      await card.getByRole('button', { name: 'Run now' }).click();
      await page.getByText(/“USB disk” is (starting|already waiting)/).waitFor();
      await shootBoth('backups');

      await card.getByRole('button', { name: 'Pause' }).click();
      await card.getByText('Paused', { exact: true }).first().waitFor();
    } finally {
      await rm(target, { recursive: true, force: true });
    }
  });

  it('raised no errors in the pages', async () => {
    expect(session.pageErrors).toEqual([]);
    expect(await readFile(path.join(watched, 'garden-copy.jpg'))).toBeTruthy();
  });
});
