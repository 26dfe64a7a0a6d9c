// What a newcomer trips over first, in Chromium against a real `nook start`: photos and videos of every
// shape fit the viewer at common screen sizes, the trash shows its thumbnails, and an unknown address
// or a stopped server leads to Nook's own pages with a way on.
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { chromium, type Page } from 'playwright-core';
import sharp from 'sharp';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { video } from '../test/media-files';
import {
  admin,
  completeSetup,
  desktop,
  phone,
  shoot,
  signIn,
  startSession,
  type E2eSession,
} from './harness';

/** Width × height of each photo: the shapes cameras and phones make, and a panorama. */
const photos: Record<string, [number, number]> = {
  'landscape-4x3.jpg': [2400, 1800],
  'landscape-16x9.jpg': [1920, 1080],
  'landscape-3x2.jpg': [3000, 2000],
  'portrait-3x4.jpg': [1500, 2000],
  'portrait-9x16.jpg': [1080, 1920],
  'square.jpg': [1600, 1600],
  'panorama.jpg': [6000, 1200],
};
const portraitVideo = 'portrait-clip.mp4';

const viewports = [
  { width: 1366, height: 768 },
  { width: 1440, height: 900 },
  { width: 1920, height: 1080 },
  { width: 390, height: 844 },
];

interface Box {
  left: number;
  top: number;
  right: number;
  bottom: number;
}

/** The shown media's box, the stage's and the window's, once the media has loaded. */
async function measure(page: Page): Promise<{
  name: string;
  kind: 'img' | 'video';
  media: Box;
  stage: Box;
  window: Box;
  natural: { width: number; height: number };
}> {
  const viewer = page.locator('[role="dialog"][aria-modal="true"]');
  const media = viewer.locator('.stage img, .stage video').first();
  await media.waitFor();
  // The root tsconfig has no DOM types (test/ relies on Node's fetch types), so the page's objects
  // are described by the few properties read here.
  type Rect = Box;
  type Media = {
    tagName: string;
    readyState?: number;
    videoWidth?: number;
    videoHeight?: number;
    complete?: boolean;
    naturalWidth?: number;
    naturalHeight?: number;
    getBoundingClientRect(): Rect;
    closest(selector: string): Media | null;
    getAttribute(name: string): string | null;
  };
  await expect
    .poll(() =>
      media.evaluate((node) => {
        const element = node as unknown as Media;
        return element.tagName === 'VIDEO'
          ? element.readyState! >= 1 && element.videoWidth! > 0
          : element.complete! && element.naturalWidth! > 0;
      }),
    )
    .toBe(true);
  return media.evaluate((node) => {
    const element = node as unknown as Media;
    const { innerWidth, innerHeight } = globalThis as unknown as { innerWidth: number; innerHeight: number };
    const box = (rect: Rect) => ({ left: rect.left, top: rect.top, right: rect.right, bottom: rect.bottom });
    const isVideo = element.tagName === 'VIDEO';
    return {
      name: element.closest('[role="dialog"]')!.getAttribute('aria-label')!,
      kind: isVideo ? ('video' as const) : ('img' as const),
      media: box(element.getBoundingClientRect()),
      stage: box(element.closest('.stage')!.getBoundingClientRect()),
      window: { left: 0, top: 0, right: innerWidth, bottom: innerHeight },
      natural: isVideo
        ? { width: element.videoWidth!, height: element.videoHeight! }
        : { width: element.naturalWidth!, height: element.naturalHeight! },
    };
  });
}

function inside(inner: Box, outer: Box): boolean {
  // Half a pixel for subpixel layout.
  return (
    inner.left >= outer.left - 0.5 &&
    inner.top >= outer.top - 0.5 &&
    inner.right <= outer.right + 0.5 &&
    inner.bottom <= outer.bottom + 0.5
  );
}

describe('dashboard basics', () => {
  let session: E2eSession;
  let page: Page;
  let url: string;

  beforeAll(async () => {
    session = await startSession();
    ({ page } = session);
    url = session.nook.url;
    await completeSetup(page, url);
  });

  afterAll(async () => {
    await session?.close();
  });

  it('fits every photo and video inside the viewer at desktop and phone sizes, controls on screen', async () => {
    const files: string[] = [];
    for (const [name, [width, height]] of Object.entries(photos)) {
      const file = path.join(session.filesDir, name);
      // Two colours, so a crop or a stretch shows on the screenshots.
      await sharp({ create: { width, height, channels: 3, background: '#3a7bd5' } })
        .composite([
          {
            input: await sharp({
              create: { width: Math.round(width / 2), height, channels: 3, background: '#e8a23a' },
            })
              .png()
              .toBuffer(),
            left: 0,
            top: 0,
          },
        ])
        .jpeg({ quality: 85 })
        .toFile(file);
      files.push(file);
    }
    const clip = path.join(session.filesDir, portraitVideo);
    await video(clip, { codec: 'h264', width: 720, height: 1280, seconds: 2 });
    files.push(clip);

    await page.locator('input[type="file"]').first().setInputFiles(files);
    await expect
      .poll(() => page.locator('[data-asset-id][data-status="ready"]').count(), { timeout: 90_000 })
      .toBe(files.length);

    await page.getByRole('button', { name: 'Dismiss uploads' }).click();
    const names = [...Object.keys(photos), portraitVideo];
    for (const viewport of viewports) {
      await page.setViewportSize(viewport);
      // From the grid's first tile to its last, whatever order it shows them in.
      await page.locator('[data-asset-id]').first().click();
      const viewer = page.locator('[role="dialog"][aria-modal="true"]');
      await viewer.waitFor();
      const seen = new Set<string>();
      for (let step = 0; step < names.length; step++) {
        const shown = await measure(page);
        seen.add(shown.name);
        const where = `${shown.name} at ${viewport.width}×${viewport.height}: ${JSON.stringify(shown)}`;
        expect(inside(shown.media, shown.stage), where).toBe(true);
        expect(inside(shown.media, shown.window), where).toBe(true);
        if (shown.kind === 'img') {
          // Fitted, not shrunk for nothing: it fills the stage's width or height, or is shown whole.
          const width = shown.media.right - shown.media.left;
          const height = shown.media.bottom - shown.media.top;
          const stageWidth = shown.stage.right - shown.stage.left;
          const stageHeight = shown.stage.bottom - shown.stage.top;
          const fills = width >= stageWidth - 1 || height >= stageHeight - 1;
          const whole = width >= shown.natural.width - 1 && height >= shown.natural.height - 1;
          expect(fills || whole, where).toBe(true);
          // Not stretched: the box keeps the picture's shape.
          expect(Math.abs(width / height - shown.natural.width / shown.natural.height), where).toBeLessThan(
            0.02,
          );
        } else {
          // The browser draws a video's controls along the bottom of its box.
          expect(shown.media.bottom, where).toBeLessThanOrEqual(viewport.height);
          expect(
            await viewer
              .locator('video')
              .evaluate((element) => (element as unknown as { controls: boolean }).controls),
          ).toBe(true);
        }
        if (/portrait-9x16|panorama|clip/.test(shown.name))
          await shoot(
            page,
            `basics-viewer-${viewport.width}x${viewport.height}-${shown.name.replace(/\..*/, '')}`,
            {
              viewport,
            },
          );
        await page.keyboard.press('ArrowRight');
        if (step < names.length - 1)
          await page
            .locator(`[role="dialog"][aria-modal="true"]:not([aria-label="${shown.name}"])`)
            .waitFor();
      }
      expect([...seen].sort()).toEqual([...names].sort());
      await viewer.getByRole('button', { name: 'Close' }).click();
      await viewer.waitFor({ state: 'detached' });
    }
    await page.setViewportSize(desktop);
  });

  it('shows the thumbnails of what is in the trash', async () => {
    await page.locator('[data-asset-id]:has(img[alt="panorama.jpg"])').click();
    const viewer = page.getByRole('dialog', { name: 'panorama.jpg' });
    await viewer.getByRole('button', { name: 'Move to trash' }).click();
    await page.goto(`${url}/trash`);
    const tile = page.locator('li[data-item-id]', { hasText: 'panorama.jpg' });
    await tile.waitFor();
    const image = tile.locator('img');
    await expect
      .poll(
        () => image.evaluate((element) => (element as unknown as { naturalWidth: number }).naturalWidth),
        {
          timeout: 15_000,
        },
      )
      .toBeGreaterThan(0);
    await shoot(page, 'basics-trash-desktop');
  });

  it("shows Nook's own page with navigation for an address that leads nowhere", async () => {
    await page.goto(`${url}/no/such/page`);
    await page.getByRole('heading', { name: 'Page not found' }).waitFor();
    await page.getByText('There is nothing at /no/such/page').waitFor();
    await shoot(page, 'basics-not-found-desktop');
    await shoot(page, 'basics-not-found-dark', { dark: true });
    await shoot(page, 'basics-not-found-phone', { viewport: phone });
    await page.setViewportSize(desktop);
    await page.emulateMedia({ colorScheme: 'light' });
    await page
      .getByRole('navigation', { name: 'Where to go' })
      .getByRole('link', { name: 'Library' })
      .click();
    await page.getByRole('heading', { name: 'Library', exact: true }).waitFor();
  });

  it('can be installed as an app: manifest, icons, service worker, share target; thumbnails kept for the person signed in', async () => {
    const manifestResponse = await fetch(`${url}/manifest.webmanifest`);
    expect(manifestResponse.status).toBe(200);
    expect(manifestResponse.headers.get('content-type')).toMatch(/manifest\+json|json/);
    const manifest = (await manifestResponse.json()) as {
      name: string;
      icons: { src: string; sizes: string; purpose: string }[];
      share_target: { action: string; method: string };
    };
    expect(manifest.name).toBe('Nook');
    expect(manifest.share_target).toMatchObject({ action: '/share-target', method: 'POST' });
    for (const [size, purpose] of [
      [192, 'any'],
      [512, 'any'],
      [512, 'maskable'],
    ] as const) {
      const icon = manifest.icons.find(
        (entry) => entry.sizes === `${size}x${size}` && entry.purpose === purpose,
      )!;
      const response = await fetch(`${url}${icon.src}`);
      expect(response.headers.get('content-type')).toBe('image/png');
      expect(await sharp(Buffer.from(await response.arrayBuffer())).metadata()).toMatchObject({
        format: 'png',
        width: size,
        height: size,
      });
    }

    await page.goto(url);
    await page.getByRole('heading', { name: 'Library', exact: true }).waitFor();
    await page.waitForFunction(
      'navigator.serviceWorker.ready.then(() => !!navigator.serviceWorker.controller)',
    );
    // Chromium never offers to install from an incognito profile, which Playwright's contexts are.
    const profile = await mkdtemp(path.join(tmpdir(), 'nook-e2e-profile-'));
    const installable = await chromium.launchPersistentContext(profile, {
      executablePath: process.env.CHROMIUM_PATH ?? '/usr/bin/chromium',
      args: ['--headless=new', '--no-sandbox', '--disable-gpu', '--no-first-run'],
      viewport: desktop,
    });
    try {
      const app = installable.pages()[0] ?? (await installable.newPage());
      await signIn(app, url, admin.username, admin.password);
      await app.waitForFunction('navigator.serviceWorker.ready.then(() => true)');
      const cdp = await installable.newCDPSession(app);
      const { installabilityErrors } = (await cdp.send('Page.getInstallabilityErrors')) as {
        installabilityErrors: { errorId: string }[];
      };
      expect(installabilityErrors).toEqual([]);
      const { errors } = (await cdp.send('Page.getAppManifest')) as { errors: { message: string }[] };
      expect(errors).toEqual([]);
    } finally {
      await installable.close();
      await rm(profile, { recursive: true, force: true });
    }

    // Controlled now: the thumbnails the grid shows are kept, under the signed-in person's id.
    await page.reload();
    await page.getByRole('heading', { name: 'Library', exact: true }).waitFor();
    const kept = () =>
      page.evaluate(`caches.has('nook-thumbs').then((has) => has ? caches.open('nook-thumbs').then((cache) =>
        cache.keys()).then((keys) => keys.map((key) => new URL(key.url).pathname)) : [])`) as Promise<
        string[]
      >;
    await expect.poll(async () => (await kept()).length, { timeout: 15_000 }).toBeGreaterThan(0);
    expect((await kept()).every((pathname) => pathname.endsWith('/thumbnail'))).toBe(true);

    // "Share to Nook" from a phone's share sheet is a multipart POST to the share target.
    const shared = path.join(session.filesDir, 'shared-from-phone.jpg');
    await sharp({ create: { width: 900, height: 600, channels: 3, background: '#7a3' } })
      .jpeg()
      .toFile(shared);
    await page.evaluate(`(() => {
      const form = document.createElement('form');
      form.method = 'post';
      form.action = '/share-target';
      form.enctype = 'multipart/form-data';
      form.id = 'share-sheet';
      const input = document.createElement('input');
      input.type = 'file';
      input.name = 'file';
      input.setAttribute('aria-label', 'Shared file');
      form.append(input);
      document.body.append(form);
    })()`);
    await page.locator('#share-sheet input').setInputFiles(shared);
    await page.evaluate(`document.getElementById('share-sheet').submit()`);
    await page.waitForURL(`${url}/?shared=1`);
    await page.locator('[data-asset-id] img[alt="shared-from-phone.jpg"]').waitFor({ timeout: 30_000 });

    // Signing out drops the kept thumbnails.
    await page.getByRole('button', { name: admin.displayName, exact: true }).click();
    await page.getByRole('button', { name: 'Sign out' }).click();
    await page.waitForURL(`${url}/login`);
    await expect.poll(() => page.evaluate(`caches.has('nook-thumbs')`)).toBe(false);
    await signIn(page, url, admin.username, admin.password);
  });

  // Last: it stops the server.
  it('says what went wrong while the server is down: the viewer offers to try again, a new page says Nook is unreachable', async () => {
    await page.locator('[data-asset-id]:has(img[alt="square.jpg"])').click();
    const viewer = page.getByRole('dialog', { name: 'square.jpg' });
    await viewer.locator('img').waitFor();
    await session.nook.stop();
    // The original was never fetched, so nothing cached stands in for it.
    await viewer.getByRole('button', { name: 'Show the original' }).click();
    await viewer.getByRole('alert').getByText("Couldn't load this photo").waitFor();
    expect(await viewer.locator('img').count()).toBe(0);
    await shoot(page, 'basics-viewer-offline-desktop');
    await viewer.getByRole('button', { name: 'Close' }).click();

    // A page opened now comes from the service worker's shell, which says the server is out of reach.
    await page.goto(`${url}/albums`);
    await page.getByRole('heading', { name: "Couldn't reach Nook" }).waitFor();
    await page.getByRole('button', { name: 'Try again' }).waitFor();
    await shoot(page, 'basics-offline-desktop');
    await shoot(page, 'basics-offline-phone', { viewport: phone });
  });
});
