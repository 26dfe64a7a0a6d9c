// The media pipeline end to end through pg-boss: metadata → thumbnail or poster, bad input, job operations.
import { execFile } from 'node:child_process';
import { readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { promisify } from 'node:util';
import sharp from 'sharp';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { eventually, setUpAdmin, startTestNook, type TestClient, type TestNook } from '../../../test/harness';
import { makeJpeg } from '../../../test/media';
import { pngHeaderOnly } from '../../../test/media-files';

const execFileAsync = promisify(execFile);

interface AssetView {
  id: string;
  name: string;
  mime: string;
  status: 'pending' | 'ready' | 'failed';
  error: string | null;
  width: number | null;
  height: number | null;
  duration: number | null;
  takenAt: string;
  takenAtSource: string;
  camera: { make: string | null; model: string | null };
  video: { codec: string | null } | null;
  thumbhash: string | null;
  thumbnailUrl: string | null;
}

async function makeVideo(seconds = 3): Promise<Buffer> {
  const file = path.join(tmpdir(), `nook-video-${process.pid}-${Date.now()}.mp4`);
  await execFileAsync('ffmpeg', [
    '-v',
    'error',
    '-y',
    '-f',
    'lavfi',
    '-i',
    `testsrc2=size=640x360:rate=25:duration=${seconds}`,
    '-c:v',
    'libx264',
    '-pix_fmt',
    'yuv420p',
    '-metadata',
    'creation_time=2021-07-14T10:20:30Z',
    file,
  ]);
  const data = await readFile(file);
  await rm(file, { force: true });
  return data;
}

describe('media pipeline', () => {
  let nook: TestNook;
  let admin: TestClient;

  const upload = async (name: string, data: Buffer): Promise<string> => {
    const response = await admin.upload([{ name, data }]);
    expect(response.status).toBe(201);
    return ((await response.json()) as { id: string }[])[0]!.id;
  };
  const settled = (id: string, timeoutMs = 30_000) =>
    eventually(async () => {
      const asset = await admin.query<AssetView>('assets.get', { id });
      return asset.status === 'pending' ? undefined : asset;
    }, timeoutMs);

  beforeAll(async () => {
    nook = await startTestNook();
    admin = await setUpAdmin(nook.url);
  });

  afterAll(async () => {
    await nook?.close();
  });

  it('reads EXIF (camera, taken-at) and makes a thumbnail with a thumbhash', async () => {
    const jpeg = await sharp(await makeJpeg({ width: 1200, height: 800, seed: '336699' }))
      .withExif({
        IFD0: { Make: 'Nook Optics', Model: 'Pi Cam 3' },
        IFD2: { DateTimeOriginal: '2019:05:04 13:14:15', OffsetTimeOriginal: '+02:00' },
      })
      .jpeg()
      .toBuffer();
    const asset = await settled(await upload('exif.jpg', jpeg));
    expect(asset).toMatchObject({
      status: 'ready',
      width: 1200,
      height: 800,
      camera: { make: 'Nook Optics', model: 'Pi Cam 3' },
    });
    expect(asset.takenAtSource).toBe('exif-original');
    expect(asset.takenAt).toBe('2019-05-04T11:14:15.000Z');
    expect(asset.thumbhash).toMatch(/^[A-Za-z0-9+/=]+$/);
    expect((await admin.fetch(asset.thumbnailUrl!)).status).toBe(200);
  });

  it('probes a video and makes its poster', async () => {
    const asset = await settled(await upload('clip.mp4', await makeVideo()), 60_000);
    expect(asset).toMatchObject({ status: 'ready', width: 640, height: 360, video: { codec: 'h264' } });
    expect(asset.duration).toBeCloseTo(3, 0);
    expect(asset.takenAt).toBe('2021-07-14T10:20:30.000Z');
    const poster = await admin.fetch(asset.thumbnailUrl!);
    expect(poster.status).toBe(200);
    expect((await sharp(Buffer.from(await poster.arrayBuffer())).metadata()).width).toBe(250);
  });

  it('handles bad input: each file fails with a reason (or succeeds when it is fine) and the worker goes on', async () => {
    const good = await makeJpeg({ width: 640, height: 480, seed: '884422' });
    const png = await sharp(good).png().toBuffer();
    const cases = {
      truncated: await upload('truncated.jpg', good.subarray(0, Math.floor(good.length / 2))),
      empty: await upload('empty.jpg', Buffer.alloc(0)),
      pngNamedJpg: await upload('really-a-png.jpg', png),
      bomb: await upload('bomb.png', pngHeaderOnly(60000, 60000)),
      corruptVideo: await upload('corrupt.mp4', (await makeVideo(2)).subarray(0, 3000)),
    };
    const results = Object.fromEntries(
      await Promise.all(Object.entries(cases).map(async ([name, id]) => [name, await settled(id)] as const)),
    );
    expect(results.pngNamedJpg).toMatchObject({ status: 'ready', mime: 'image/png', width: 640 });
    for (const name of ['truncated', 'empty', 'bomb', 'corruptVideo']) {
      expect(results[name], name).toMatchObject({ status: 'failed', error: expect.any(String) });
      expect(results[name]!.error!.length, name).toBeGreaterThan(5);
    }
    expect(results.bomb!.error).toMatch(/pixel/i);

    const next = await settled(await upload('after-bad-input.jpg', await makeJpeg({ seed: '101010' })));
    expect(next.status).toBe('ready');
  });

  it('reports queue depths and failures, retries failed files and remakes missing derived files', async () => {
    const summary = await admin.query<{ queues: Record<string, { completed: number; failed: number }> }>(
      'jobs.summary',
    );
    expect(summary.queues.metadata!.completed).toBeGreaterThan(3);
    expect(summary.queues.thumbnail!.completed).toBeGreaterThan(1);
    const failed = await admin.query<{ id: string; name: string; error: string }[]>('jobs.failed', {});
    expect(failed.map((asset) => asset.name)).toEqual(expect.arrayContaining(['truncated.jpg', 'bomb.png']));
    const bomb = failed.find((asset) => asset.name === 'bomb.png')!;
    expect(await admin.mutate('jobs.retryFailed', { ids: [bomb.id] })).toEqual({ queued: 1 });
    expect((await settled(bomb.id)).status).toBe('failed');

    const ready = (await admin.query<{ items: AssetView[] }>('assets.list', { limit: 100 })).items.find(
      (a) => a.name === 'exif.jpg',
    )!;
    const full = await admin.query<AssetView & { sha256: string }>('assets.get', { id: ready.id });
    await rm(nook.dataDir.derivedPath(full.sha256, 'preview'));
    expect(await admin.mutate('jobs.makeMissing')).toEqual({ queued: 1 });
    await eventually(
      async () => (await admin.fetch(`/api/assets/${ready.id}/thumbnail?size=preview`)).status === 200,
    );

    const retried = await admin.mutate<{ queued: number }>('jobs.retryFailed', {});
    expect(retried.queued).toBeGreaterThanOrEqual(4);
    const truncated = (await admin.query<{ items: AssetView[] }>('assets.list', { limit: 100 })).items.find(
      (a) => a.name === 'truncated.jpg',
    )!;
    expect((await settled(truncated.id)).status).toBe('failed');
  });
});

describe('a file deleted before its job runs', () => {
  let nook: TestNook;

  afterAll(async () => {
    await nook?.close();
  });

  it('ends failed with the reason, after retrying', async () => {
    nook = await startTestNook({ workers: false });
    const admin = await setUpAdmin(nook.url);
    const response = await admin.upload([
      { name: 'vanishing.jpg', data: await makeJpeg({ seed: '0f0f0f' }) },
    ]);
    const { id } = ((await response.json()) as { id: string }[])[0]!;
    const month = `${new Date().getFullYear()}/${String(new Date().getMonth() + 1).padStart(2, '0')}`;
    await rm(path.join(nook.dataDir.library, 'admin', month, 'vanishing.jpg'));
    await nook.startWorkers();
    const failed = await eventually(async () => {
      const asset = await admin.query<AssetView>('assets.get', { id });
      return asset.status === 'failed' ? asset : undefined;
    }, 30_000);
    expect(failed.error).toContain('no longer on disk');
  });
});
