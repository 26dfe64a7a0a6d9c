// Accounts in Chromium against a real `nook start`: setup, sign-in, share links seen by strangers, settings, members.
import path from 'node:path';
import type { Browser, Page } from 'playwright-core';
import sharp from 'sharp';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  admin,
  desktop,
  openMenu,
  phone,
  shoot,
  signIn,
  startSession,
  type E2eSession,
  type Nook,
} from './harness';

const member = { username: 'bob', password: 'bob likes boats' };

describe('accounts', () => {
  let filesDir: string;
  let nook: Nook;
  let url: string;
  let browser: Browser;
  let page: Page;
  let pageErrors: string[];
  let session: E2eSession;
  /** Share links by what they are, as `/s/<token>`. */
  const links = { open: '', protected: '' };

  /** A browser with no cookies: a stranger who was sent a link, or another person of the household. */
  async function freshPage(): Promise<Page> {
    const fresh = await browser.newContext({ viewport: desktop });
    const freshPage = await fresh.newPage();
    freshPage.on('pageerror', (error) => pageErrors.push(error.message));
    return freshPage;
  }

  async function imageDecoded(target: Page, selector: string): Promise<void> {
    const decoded = () =>
      target.locator(selector).evaluate((element) => {
        const image = element as unknown as { complete: boolean; naturalWidth: number };
        return image.complete && image.naturalWidth > 0;
      });
    await expect.poll(decoded, { timeout: 30_000 }).toBe(true);
  }

  /** Creates a share link for the tile's asset through its dialog and returns the link's path. */
  async function createShare(options: { allowDownload: boolean; password?: string }): Promise<string> {
    const tile = page.locator('[data-asset-id]', { hasText: 'garden.jpg' });
    await tile.hover();
    await page.getByRole('button', { name: 'Share garden.jpg' }).click();
    const dialog = page.getByRole('dialog', { name: 'Share “garden.jpg”' });
    await dialog.waitFor();
    if (options.allowDownload) await dialog.getByLabel('Allow download').check();
    if (options.password) {
      await dialog.getByLabel('Require a password').check();
      await dialog.getByLabel('Password for visitors').fill(options.password);
      await dialog.getByLabel('Link expires').selectOption('7');
    }
    await dialog.getByRole('button', { name: 'Create link' }).click();
    const created = page.getByRole('dialog', { name: 'Link created' });
    const link = await created.getByLabel('Anyone with this link can open the file').inputValue();
    expect(link).toMatch(new RegExp(`^${url}/s/[A-Za-z0-9_-]{16,}$`));
    return new URL(link).pathname;
  }

  beforeAll(async () => {
    session = await startSession();
    ({ nook, browser, page, filesDir, pageErrors } = session);
    url = nook.url;
  });

  afterAll(async () => {
    await session?.close();
  });

  it('sends a fresh Nook to setup, checks the form, and creates the administrator', async () => {
    await page.goto(url);
    await page.waitForURL(`${url}/setup`);
    await page.getByRole('heading', { name: 'Welcome to Nook' }).waitFor();
    await shoot(page, 'setup-light');
    await shoot(page, 'setup-dark', { dark: true });
    await shoot(page, 'setup-phone', { viewport: phone });
    await page.setViewportSize(desktop);

    await page.getByRole('button', { name: 'Create administrator' }).click();
    await page.getByText('Choose a username.').waitFor();
    await page.getByLabel('Username').fill('Ada Lovelace');
    await page.getByLabel('Password', { exact: true }).fill(admin.password);
    await page.getByLabel('Confirm password').fill('something else');
    await page.getByText('Use only letters, digits, dots, dashes and underscores.').waitFor();
    await page.getByText("The passwords don't match.").waitFor();
    await shoot(page, 'setup-invalid-light');

    await page.getByLabel('Username').fill(admin.username);
    await page.getByLabel('Display name').fill(admin.displayName);
    await page.getByLabel('Confirm password').fill(admin.password);
    await page.getByRole('button', { name: 'Create administrator' }).click();
    await page.getByRole('heading', { name: 'Your library is empty' }).waitFor();
    expect(new URL(page.url()).pathname).toBe('/');
    await page.getByRole('button', { name: admin.displayName, exact: true }).waitFor();
  });

  it('signs out to the sign-in page, refuses a wrong password and accepts the right one', async () => {
    await openMenu(page, admin.displayName);
    await shoot(page, 'menu-light');
    await page.getByRole('button', { name: 'Sign out' }).click();
    await page.waitForURL(`${url}/login`);
    await shoot(page, 'login-light');
    await shoot(page, 'login-dark', { dark: true });
    await shoot(page, 'login-phone', { viewport: phone });
    await page.setViewportSize(desktop);

    // Signed out, the library is out of reach too.
    await page.goto(url);
    await page.waitForURL(`${url}/login`);

    await page.getByLabel('Username').fill(admin.username);
    await page.getByLabel('Password').fill('not the password');
    await page.getByRole('button', { name: 'Sign in' }).click();
    await page.getByRole('alert').filter({ hasText: 'Wrong username or password.' }).waitFor();
    await shoot(page, 'login-error-light');
    await shoot(page, 'login-error-dark', { dark: true });
    await page.emulateMedia({ colorScheme: 'light' });

    await signIn(page, url, admin.username, admin.password);
    await page.getByRole('heading', { name: 'Your library is empty' }).waitFor();
  });

  it('creates share links for an uploaded photo, with and without a password', async () => {
    const garden = path.join(filesDir, 'garden.jpg');
    await sharp({ create: { width: 1200, height: 800, channels: 3, background: '#4a8' } })
      .jpeg()
      .toFile(garden);
    await page.locator('input[type="file"]').first().setInputFiles(garden);
    await page.locator('[data-status="ready"] img').waitFor({ timeout: 30_000 });

    links.open = await createShare({ allowDownload: true });
    await page.getByRole('button', { name: 'Done' }).click();
    await page.getByRole('dialog').waitFor({ state: 'detached' });

    const tile = page.locator('[data-asset-id]', { hasText: 'garden.jpg' });
    await tile.hover();
    await page.getByRole('button', { name: 'Share garden.jpg' }).click();
    await page.getByRole('dialog').getByLabel('Require a password').check();
    await page.getByRole('dialog').getByLabel('Password for visitors').fill('open sesame');
    await shoot(page, 'share-dialog-light');
    await shoot(page, 'share-dialog-dark', { dark: true });
    await shoot(page, 'share-dialog-phone', { viewport: phone });
    await page.setViewportSize(desktop);
    await page.emulateMedia({ colorScheme: 'light' });
    await page.keyboard.press('Escape');
    await page.getByRole('dialog').waitFor({ state: 'detached' });
    // Focus goes back to the button that opened the dialog.
    expect(await page.locator(':focus').getAttribute('aria-label')).toBe('Share garden.jpg');

    links.protected = await createShare({ allowDownload: false, password: 'open sesame' });
    await shoot(page, 'share-created-light');
    await page.getByRole('button', { name: 'Done' }).click();
    expect(links.protected).not.toBe(links.open);
  });

  it('shows an open link to a stranger: the photo and a download, nothing of the app', async () => {
    const stranger = await freshPage();
    await stranger.goto(`${url}${links.open}`);
    await imageDecoded(stranger, 'img[alt="garden.jpg"]');
    await stranger.getByRole('link', { name: 'Download' }).waitFor();
    expect(new URL(stranger.url()).pathname).toBe(links.open);
    expect(await stranger.locator('header').count()).toBe(0);
    expect(await stranger.getByRole('navigation').count()).toBe(0);
    expect(await stranger.getByText('Library').count()).toBe(0);
    expect(await stranger.getByText(admin.displayName).count()).toBe(0);
    await shoot(stranger, 'share-public-light');
    await shoot(stranger, 'share-public-dark', { dark: true });
    await shoot(stranger, 'share-public-phone', { viewport: phone });
    await stranger.context().close();
  });

  it('asks a stranger for the password of a protected link', async () => {
    const stranger = await freshPage();
    await stranger.goto(`${url}${links.protected}`);
    await stranger.getByRole('heading', { name: 'This link is protected' }).waitFor();
    expect(await stranger.locator('img').count()).toBe(0);
    await shoot(stranger, 'share-password-light');
    await shoot(stranger, 'share-password-dark', { dark: true });
    await shoot(stranger, 'share-password-phone', { viewport: phone });
    await stranger.setViewportSize(desktop);

    await stranger.getByLabel('Password').fill('open says me');
    await stranger.getByRole('button', { name: 'Open' }).click();
    await stranger.getByRole('alert').filter({ hasText: 'That password is not right.' }).waitFor();
    await stranger.getByLabel('Password').fill('open sesame');
    await stranger.getByRole('button', { name: 'Open' }).click();
    await imageDecoded(stranger, 'img[alt="garden.jpg"]');
    // This link was made without downloads.
    expect(await stranger.getByRole('link', { name: 'Download' }).count()).toBe(0);
    await stranger.context().close();
  });

  it('lists the links with their views, and a revoked one no longer opens', async () => {
    await page.getByRole('navigation', { name: 'Main' }).getByRole('link', { name: 'Settings' }).click();
    await page
      .getByRole('navigation', { name: 'Settings sections' })
      .getByRole('link', { name: /Shared links/ })
      .click();
    await page.getByRole('heading', { name: 'Shared links' }).waitFor();
    const rows = page.locator('li[data-share-id]');
    await expect.poll(() => rows.count()).toBe(2);
    const openRow = rows.filter({ has: page.locator(`a[href="${links.open}"]`) });
    expect(await openRow.textContent()).toContain('1 view');
    expect(await rows.filter({ hasText: 'Password' }).count()).toBe(1);
    await shoot(page, 'shares-light');
    await shoot(page, 'shares-dark', { dark: true });
    await page.emulateMedia({ colorScheme: 'light' });

    await openRow.getByRole('button', { name: /^Revoke/ }).click();
    await page
      .getByRole('dialog', { name: 'Revoke this link?' })
      .getByRole('button', { name: 'Revoke link' })
      .click();
    await expect.poll(() => rows.count()).toBe(1);

    const stranger = await freshPage();
    await stranger.goto(`${url}${links.open}`);
    await stranger
      .getByRole('heading', { name: "This link doesn't exist, has expired or was revoked" })
      .waitFor();
    expect(new URL(stranger.url()).pathname).toBe(links.open);
    await shoot(stranger, 'share-gone-light');
    await shoot(stranger, 'share-gone-dark', { dark: true });
    await stranger.context().close();
  });

  it('shares an album: a stranger sees its grid, opens a photo large and closes it with Escape', async () => {
    await page.goto(url);
    const tile = page.locator('[data-asset-id]', { hasText: 'garden.jpg' });
    const assetId = await tile.getAttribute('data-asset-id');
    await openMenu(page, admin.displayName);
    await page.getByRole('link', { name: 'Albums' }).click();
    await page.getByRole('heading', { name: 'Albums' }).waitFor();
    await page.getByLabel('New album name').fill('Garden');
    await page.getByRole('button', { name: 'Create album' }).click();
    await page.getByRole('heading', { name: 'Garden', exact: true }).waitFor();
    expect(page.url()).toMatch(/\/albums\/[0-9a-f-]{36}$/);
    await page.getByRole('button', { name: 'Add photos' }).click();
    const picker = page.getByRole('dialog', { name: 'Add to “Garden”' });
    await picker.locator(`li[data-item-id="${assetId}"]`).getByRole('checkbox').click();
    await picker.getByRole('button', { name: 'Add 1 photo' }).click();
    await page.getByText('One photo added.').waitFor();
    await page.getByText('1 item', { exact: true }).waitFor();
    await shoot(page, 'albums-light');

    await page.getByRole('button', { name: 'Share', exact: true }).click();
    const dialog = page.getByRole('dialog', { name: 'Share “Garden”' });
    await dialog.getByLabel('Allow download').check();
    await dialog.getByRole('button', { name: 'Create link' }).click();
    const link = await page
      .getByRole('dialog', { name: 'Link created' })
      .getByLabel('Anyone with this link can open the album')
      .inputValue();
    await page.getByRole('button', { name: 'Done' }).click();

    const stranger = await freshPage();
    await stranger.goto(link);
    await stranger.getByRole('heading', { name: 'Garden' }).waitFor();
    await imageDecoded(stranger, 'ul[aria-label="Photos in Garden"] img');
    expect(await stranger.locator('header').count()).toBe(0);
    expect(await stranger.getByText(admin.displayName).count()).toBe(0);
    await shoot(stranger, 'share-album-light');
    await shoot(stranger, 'share-album-dark', { dark: true });
    await shoot(stranger, 'share-album-phone', { viewport: phone });
    await stranger.setViewportSize(desktop);

    await stranger.getByRole('button', { name: 'Open garden.jpg' }).click();
    const viewer = stranger.getByRole('dialog', { name: 'garden.jpg' });
    await imageDecoded(stranger, 'dialog img[alt="garden.jpg"]');
    await viewer.getByRole('link', { name: 'Download' }).waitFor();
    await shoot(stranger, 'share-album-viewer-light');
    await stranger.keyboard.press('Escape');
    await viewer.waitFor({ state: 'detached' });
    expect(await stranger.locator(':focus').getAttribute('aria-label')).toBe('Open garden.jpg');
    await stranger.context().close();
  });

  it('creates an API token whose secret shows once, and lists this device', async () => {
    await openMenu(page, admin.displayName);
    await page.getByRole('link', { name: 'Settings' }).click();
    await page.getByRole('heading', { name: 'Settings' }).waitFor();

    const devices = page.getByRole('list', { name: 'Signed-in devices' });
    await devices.locator('li[data-session-current="true"]', { hasText: 'This device' }).waitFor();
    expect(await devices.locator('li[data-session-current="true"]').textContent()).toContain(
      'Chrome on Linux',
    );

    await page.getByLabel('Token name').fill('backup script');
    await page.getByRole('checkbox', { name: /Upload/ }).check();
    await page.getByRole('button', { name: 'Create token' }).click();
    const dialog = page.getByRole('dialog', { name: 'Token “backup script” created' });
    await dialog.getByText("you won't see it again").waitFor();
    const secret = await dialog.getByLabel('Secret').inputValue();
    expect(secret.length).toBeGreaterThan(20);
    await shoot(page, 'token-created-light');
    await shoot(page, 'token-created-dark', { dark: true });
    await page.emulateMedia({ colorScheme: 'light' });

    const asScript = await fetch(`${url}/trpc/assets.list?input=${encodeURIComponent('{}')}`, {
      headers: { authorization: `Bearer ${secret}` },
    });
    expect(asScript.status).toBe(200);

    await dialog.getByRole('button', { name: "I've copied it" }).click();
    await dialog.waitFor({ state: 'detached' });
    const tokens = page.getByRole('list', { name: 'API tokens' });
    await tokens.getByText('backup script').waitFor();
    expect(await tokens.textContent()).toContain('upload');
    expect(await page.content()).not.toContain(secret);
    await page.reload();
    await page.getByRole('list', { name: 'API tokens' }).getByText('backup script').waitFor();
    expect(await page.content()).not.toContain(secret);

    await shoot(page, 'settings-light', { fullPage: true });
    await shoot(page, 'settings-dark', { dark: true, fullPage: true });
    await shoot(page, 'settings-phone', { viewport: phone, fullPage: true });
    await page.setViewportSize(desktop);
    await page.emulateMedia({ colorScheme: 'light' });
  });

  it('lets the administrator create a member, who sees only their own empty library', async () => {
    await page.getByRole('navigation', { name: 'Main' }).getByRole('link', { name: 'Settings' }).click();
    await page
      .getByRole('navigation', { name: 'Settings sections' })
      .getByRole('link', { name: /Users/ })
      .click();
    await page.getByRole('heading', { name: 'Users' }).waitFor();
    await page.locator('li[data-username="ada"]').waitFor();
    await page.getByLabel('Username').fill(member.username);
    await page.getByLabel('First password').fill(member.password);
    await page.getByLabel('Storage quota in GB').fill('2');
    await page.getByRole('button', { name: 'Create account' }).click();
    const row = page.locator('li[data-username="bob"]');
    await row.waitFor();
    expect(await row.textContent()).toContain('Member');
    expect(await row.textContent()).toContain('of 2.0 GB');
    await shoot(page, 'users-light', { fullPage: true });
    await shoot(page, 'users-dark', { dark: true, fullPage: true });
    await shoot(page, 'users-phone', { viewport: phone, fullPage: true });
    await page.setViewportSize(desktop);
    await page.emulateMedia({ colorScheme: 'light' });

    const bob = await freshPage();
    await signIn(bob, url, member.username, member.password);
    await bob.getByRole('heading', { name: 'Your library is empty' }).waitFor();
    expect(await bob.locator('[data-asset-id]').count()).toBe(0);
    // The administration pages are not even offered in a member's navigation.
    const menu = bob.getByRole('navigation', { name: 'Main' });
    await menu.getByRole('link', { name: 'Settings' }).waitFor();
    expect(await menu.getByRole('link', { name: 'Users' }).count()).toBe(0);
    expect(await menu.getByRole('link', { name: 'Audit log' }).count()).toBe(0);
    await bob.goto(`${url}/settings/users`);
    await bob.getByRole('heading', { name: 'Only administrators can see this page' }).waitFor();
    await bob.context().close();
  });

  it('shows the administrator the audit log, newest first', async () => {
    await page.getByRole('navigation', { name: 'Main' }).getByRole('link', { name: 'Settings' }).click();
    await page
      .getByRole('navigation', { name: 'Settings sections' })
      .getByRole('link', { name: /Audit log/ })
      .click();
    await page.getByRole('heading', { name: 'Audit log' }).waitFor();
    const events = page.locator('li[data-type]');
    await events.first().waitFor();
    const types = await events.evaluateAll((items) => items.map((item) => item.getAttribute('data-type')));
    expect(types).toEqual(expect.arrayContaining(['setup', 'login_failed', 'user_created', 'share_revoked']));
    const times = await page
      .locator('li[data-type] time')
      .evaluateAll((items) => items.map((item) => item.getAttribute('datetime') ?? ''));
    expect(times).toEqual([...times].sort().reverse());
    await shoot(page, 'audit-light');
    await shoot(page, 'audit-dark', { dark: true });
    await page.emulateMedia({ colorScheme: 'light' });
  });

  it('sends a browser whose session was ended elsewhere back to sign-in', async () => {
    const other = await freshPage();
    await signIn(other, url, member.username, member.password);
    const bob = await freshPage();
    await signIn(bob, url, member.username, member.password);
    await openMenu(bob, member.username);
    await bob.getByRole('link', { name: 'Settings' }).click();
    await bob.getByRole('button', { name: 'Sign out everywhere' }).click();
    await bob.getByRole('dialog').getByRole('button', { name: 'Sign out everywhere' }).click();
    await bob.waitForURL(`${url}/login`);

    // The other browser still shows the library; its next call is refused and it lands on sign-in.
    await other.getByRole('navigation', { name: 'Main' }).getByRole('link', { name: 'Albums' }).click();
    await other.waitForURL(`${url}/login`);
    await other.getByText('Your session ended. Sign in again to continue.').waitFor();
    await other.context().close();
    await bob.context().close();
  });

  it('raised no errors in the pages', () => {
    expect(pageErrors).toEqual([]);
  });
});
