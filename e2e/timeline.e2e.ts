// The photo dashboard in Chromium against a real `nook start`: shell and navigation, drag-and-drop upload, grid, viewer, search, bulk actions.
import type { Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { admin, completeSetup, openMenu, phone, shoot, startSession, type E2eSession } from './harness';

const wide = { width: 1440, height: 900 };

describe('photo dashboard', () => {
  let session: E2eSession;
  let page: Page;
  let url: string;

  /** Both sizes the issue asks for, light at desktop size and dark on the phone. */
  async function shots(name: string): Promise<void> {
    await shoot(page, `${name}-1440`, { viewport: wide });
    await shoot(page, `${name}-390`, { viewport: phone, dark: true });
    await page.setViewportSize(wide);
    await page.emulateMedia({ colorScheme: 'light' });
  }

  beforeAll(async () => {
    session = await startSession();
    page = session.page;
    url = session.nook.url;
    await page.setViewportSize(wide);
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
    await bottom.getByRole('link', { name: 'Photos' }).click();
    await page.waitForURL(`${url}/`);
    await bottom.getByRole('button', { name: 'More' }).click();
    const sheet = page.getByRole('dialog', { name: 'More' });
    await sheet.getByRole('link', { name: 'Backups' }).waitFor();
    await shoot(page, 'more-sheet-390', { viewport: phone });
    await sheet.getByRole('link', { name: 'Settings' }).click();
    await page.waitForURL(`${url}/settings`);
    await sheet.waitFor({ state: 'hidden' });
    await page.setViewportSize(wide);

    // `?` lists the shortcuts of the page in view.
    await page.goto(url);
    await page.getByRole('heading', { name: 'Library', exact: true }).waitFor();
    await page.keyboard.press('?');
    const help = page.getByRole('dialog', { name: 'Keyboard shortcuts' });
    await help.getByText('Show keyboard shortcuts').waitFor();
    await shoot(page, 'shortcuts-1440', { viewport: wide });
    await page.keyboard.press('Escape');
    await help.waitFor({ state: 'detached' });
  });

  it('signs out', async () => {
    await openMenu(page, admin.displayName);
    await page.getByRole('button', { name: 'Sign out' }).click();
    await page.waitForURL(`${url}/login`);
    expect(session.pageErrors).toEqual([]);
  });
});
