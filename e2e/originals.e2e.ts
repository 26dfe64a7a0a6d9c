// Originals opened by themselves in Chromium — a new tab, a share link's original — as the browser's own
// media document: a video plays, a photo shows, and the policy they are served under refuses nothing.
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import type { BrowserContext, Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { makeJpeg } from '../test/media';
import { video } from '../test/media-files';
import { completeSetup, startSession, type E2eSession } from './harness';

/** What the tests read of the page's elements (the root type check has no DOM library). */
interface VideoState {
  muted: boolean;
  play(): Promise<void>;
  currentTime: number;
  readyState: number;
  error: { message: string } | null;
  paused: boolean;
}
interface ImageState {
  complete: boolean;
  naturalWidth: number;
}

/** What a tab says about content it refused: the console's CSP messages and blocked requests. */
function watchRefusals(page: Page): string[] {
  const refusals: string[] = [];
  page.on('console', (message) => {
    if (/content security policy|refused|sandbox/i.test(message.text())) refusals.push(message.text());
  });
  // A media element cancels its own requests (net::ERR_ABORTED) as it moves between ranges; a refused
  // or blocked one fails otherwise (ERR_FAILED, ERR_BLOCKED_BY_RESPONSE).
  page.on('requestfailed', (request) => {
    const error = request.failure()?.errorText ?? 'failed';
    if (error !== 'net::ERR_ABORTED') refusals.push(`${request.url()}: ${error}`);
  });
  return refusals;
}

/**
 * Opens `url` in a tab of its own, as a middle-click or a link with target=_blank does, and waits
 * until the browser's media document has its video playing: enough data for the current frame
 * (readyState ≥ 2) and the clock moving.
 */
async function playsInNewTab(context: BrowserContext, url: string) {
  const tab = await context.newPage();
  const refusals = watchRefusals(tab);
  const response = await tab.goto(url);
  const video = tab.locator('video');
  await video.waitFor({ state: 'attached' });
  // Chromium's media document starts playing by itself; a muted start spares the autoplay policy.
  // Not awaited: a video that cannot load never settles its play().
  await video.evaluate((element: VideoState) => {
    element.muted = true;
    void element.play().catch(() => undefined);
  });
  await tab.waitForTimeout(500);
  const first = await video.evaluate((element: VideoState) => element.currentTime);
  await tab.waitForTimeout(1200);
  const state = await video.evaluate((element: VideoState) => ({
    readyState: element.readyState,
    currentTime: element.currentTime,
    error: element.error?.message ?? null,
    paused: element.paused,
  }));
  await tab.close();
  return {
    status: response?.status(),
    policy: response?.headers()['content-security-policy'],
    first,
    state,
    refusals,
  };
}

describe('originals opened by themselves', () => {
  let session: E2eSession;
  let url: string;
  let videoId: string;
  let photoId: string;
  let work: string;

  async function upload(name: string, data: Buffer, mimeType: string): Promise<string> {
    const response = await session.page.request.post(`${url}/api/assets`, {
      headers: { origin: url },
      multipart: { file: { name, mimeType, buffer: data } },
    });
    expect(response.status()).toBe(201);
    return ((await response.json()) as { id: string }[])[0]!.id;
  }

  async function share(assetId: string, password?: string): Promise<string> {
    const response = await session.page.request.post(`${url}/trpc/shares.create`, {
      headers: { origin: url, 'content-type': 'application/json' },
      data: { assetId, allowDownload: true, ...(password && { password }) },
    });
    expect(response.status()).toBe(200);
    const { url: shareUrl } = ((await response.json()) as { result: { data: { url: string } } }).result.data;
    return shareUrl.replace(/^\/s\//, '');
  }

  beforeAll(async () => {
    session = await startSession();
    url = session.nook.url;
    work = await mkdtemp(path.join(tmpdir(), 'nook-e2e-originals-'));
    await completeSetup(session.page, url);
    const clip = path.join(work, 'Fête au café.mp4');
    await video(clip, { codec: 'h264', width: 320, height: 240, seconds: 6 });
    videoId = await upload('Fête au café.mp4', await readFile(clip), 'video/mp4');
    photoId = await upload('garden.jpg', await makeJpeg({ seed: '44aa66' }), 'image/jpeg');
  });

  afterAll(async () => {
    await session?.close();
    if (work) await rm(work, { recursive: true, force: true });
  });

  it('plays a video original opened in a new tab', async () => {
    const result = await playsInNewTab(session.context, `${url}/api/assets/${videoId}/original`);
    expect(result.status).toBe(200);
    expect(result.refusals).toEqual([]);
    expect(result.state.error).toBeNull();
    expect(result.state.readyState).toBeGreaterThanOrEqual(2);
    expect(result.state.currentTime).toBeGreaterThan(result.first);
    expect(result.policy).not.toContain('allow-scripts');
  });

  it("plays a share link's video original for a visitor, and behind a share password", async () => {
    const visitor = await session.browser.newContext();
    try {
      const open = await playsInNewTab(visitor, `${url}/api/shares/${await share(videoId)}/original`);
      expect(open.status).toBe(200);
      expect(open.refusals).toEqual([]);
      expect(open.state.readyState).toBeGreaterThanOrEqual(2);
      expect(open.state.currentTime).toBeGreaterThan(open.first);

      // The unlock cookie must reach the video's own range requests too.
      const token = await share(videoId, 'open sesame');
      const unlock = await visitor.request.post(`${url}/api/shares/${token}/unlock`, {
        headers: { origin: url, 'content-type': 'application/json' },
        data: { password: 'open sesame' },
      });
      expect(unlock.status()).toBe(204);
      const locked = await playsInNewTab(visitor, `${url}/api/shares/${token}/original`);
      expect(locked.status).toBe(200);
      expect(locked.refusals).toEqual([]);
      expect(locked.state.readyState).toBeGreaterThanOrEqual(2);
      expect(locked.state.currentTime).toBeGreaterThan(locked.first);
    } finally {
      await visitor.close();
    }
  });

  it('shows a photo original in its own tab without refusing its styles', async () => {
    const tab = await session.context.newPage();
    const refusals = watchRefusals(tab);
    await tab.goto(`${url}/api/assets/${photoId}/original`);
    const image = tab.locator('img');
    await image.waitFor();
    const shown = await image.evaluate((element: ImageState) => ({
      complete: element.complete,
      width: element.naturalWidth,
    }));
    await tab.close();
    expect(shown.complete).toBe(true);
    expect(shown.width).toBeGreaterThan(0);
    expect(refusals).toEqual([]);
  });

  it('runs no script in an original, even one that carries it', async () => {
    const page = await session.context.newPage();
    const refusals = watchRefusals(page);
    const svg = Buffer.from(
      '<svg xmlns="http://www.w3.org/2000/svg" width="10" height="10"><script>document.title="ran"</script></svg>',
    );
    const id = await upload('drawing.svg', svg, 'image/svg+xml');
    const download = page.waitForEvent('download');
    await page.goto(`${url}/api/assets/${id}/original`).catch(() => undefined);
    expect((await download).suggestedFilename()).toBe('drawing.svg');
    await page.close();
    expect(refusals.filter((line) => !/net::ERR_ABORTED/.test(line))).toEqual([]);
  });
});
