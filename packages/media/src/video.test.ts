// probeVideo and makeVideoPoster against videos made by ffmpeg in the test, and killable children.
import { execFile } from 'node:child_process';
import { readFileSync, readdirSync } from 'node:fs';
import { mkdtemp, readFile, rm, truncate, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { promisify } from 'node:util';
import sharp from 'sharp';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { MediaError, makeVideoPoster, probeVideo } from './index';
import { video } from '../../../test/media-files';
import { runTool } from './tools';

const run = promisify(execFile);
let dir: string;
let mp4: string;
let mov: string;

beforeAll(async () => {
  dir = await mkdtemp(path.join(os.tmpdir(), 'nook-video-'));
  mp4 = path.join(dir, 'clip.mp4');
  mov = path.join(dir, 'portrait.mov');
  await Promise.all([
    video(mp4, { codec: 'h264', width: 1280, height: 720, seconds: 4, blackSeconds: 1 }),
    video(mov, {
      codec: 'hevc',
      width: 640,
      height: 360,
      seconds: 3,
      blackSeconds: 1,
      rotate: 90,
      metadata: {
        'com.apple.quicktime.creationdate': '2023-06-01T12:34:56+0200',
        'com.apple.quicktime.location.ISO6709': '+48.8584+002.2945+035.000/',
        'com.apple.quicktime.make': 'Apple',
        'com.apple.quicktime.model': 'iPhone 14',
      },
    }),
  ]);
});
afterAll(async () => {
  await rm(dir, { recursive: true, force: true });
});

function targets(name: string) {
  return {
    thumbPath: path.join(dir, `${name}.thumb.webp`),
    previewPath: path.join(dir, `${name}.preview.jpg`),
  };
}

/** This process's children running `tool`, from /proc (synchronously: ffprobe lives a few milliseconds). */
function children(tool: string): number[] {
  const found: number[] = [];
  for (const entry of readdirSync('/proc')) {
    if (!/^\d+$/.test(entry)) continue;
    try {
      const stat = readFileSync(`/proc/${entry}/stat`, 'utf8');
      const parent = Number(stat.slice(stat.lastIndexOf(')') + 2).split(' ')[1]);
      if (parent !== process.pid) continue;
      const argv0 = readFileSync(`/proc/${entry}/cmdline`, 'utf8').split('\0')[0] ?? '';
      if (path.basename(argv0) === tool) found.push(Number(entry));
    } catch {
      // Gone while we looked.
    }
  }
  return found;
}

/**
 * Starts `call` and aborts its signal once `tool` runs as our child. A try whose child ended
 * before the abort arrived (its error has no kill as cause) is made again.
 */
async function abortWhileRunning(tool: string, call: (signal: AbortSignal) => Promise<unknown>) {
  for (let attempt = 0; attempt < 20; attempt++) {
    const controller = new AbortController();
    let settled = false;
    const pending = call(controller.signal).then(
      () => undefined,
      (error: unknown) => error,
    );
    void pending.then(() => (settled = true));
    while (!settled && children(tool).length === 0) await new Promise((resolve) => setImmediate(resolve));
    if (settled) continue;
    controller.abort();
    const error = await pending;
    if (/killed with signal SIGKILL/.test(String((error as Error | undefined)?.cause))) return error as Error;
  }
  throw new Error(`${tool} was never caught running`);
}

function distance(a: Buffer, b: Buffer): number {
  return a.reduce((sum, value, i) => sum + Math.abs(value - b[i]!), 0) / a.length;
}

async function mean(file: string): Promise<number> {
  const { channels } = await sharp(file).stats();
  return channels.slice(0, 3).reduce((sum, channel) => sum + channel.mean, 0) / 3;
}

describe('probeVideo', () => {
  it('reads an H.264 MP4', async () => {
    expect(await probeVideo(mp4)).toEqual({
      width: 1280,
      height: 720,
      duration: expect.closeTo(4, 1),
      codec: 'h264',
      fps: 30,
      rotation: 0,
      takenAt: null,
      timeZoneOffset: null,
      make: null,
      model: null,
      latitude: null,
      longitude: null,
    });
  });

  it('reads a rotated HEVC MOV with the tags an iPhone writes', async () => {
    const probe = await probeVideo(mov);
    expect(probe).toMatchObject({
      width: 360,
      height: 640,
      codec: 'hevc',
      takenAt: new Date('2023-06-01T10:34:56Z'),
      timeZoneOffset: '+02:00',
      make: 'Apple',
      model: 'iPhone 14',
      latitude: 48.8584,
      longitude: 2.2945,
    });
    expect([90, 270]).toContain(probe.rotation);
  });

  it('takes creation_time (UTC) when there is no Apple creation date', async () => {
    const file = path.join(dir, 'android.mp4');
    await video(file, {
      codec: 'h264',
      width: 320,
      height: 240,
      seconds: 1,
      metadata: { creation_time: '2022-03-04T05:06:07.000000Z', location: '-33.8568+151.2153/' },
    });
    expect(await probeVideo(file)).toMatchObject({
      takenAt: new Date('2022-03-04T05:06:07Z'),
      timeZoneOffset: null,
      latitude: -33.8568,
      longitude: 151.2153,
    });
  });

  it('fails a truncated MP4 permanently', async () => {
    const file = path.join(dir, 'truncated.mp4');
    await writeFile(file, (await readFile(mp4)).subarray(0, 30_000));
    const error = await probeVideo(file).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(MediaError);
    expect(error).toMatchObject({
      permanent: true,
      message: 'video is truncated or corrupt (moov atom not found)',
    });
  });

  it('fails a file without a video stream permanently', async () => {
    const file = path.join(dir, 'voice.m4a');
    await run('ffmpeg', ['-v', 'error', '-f', 'lavfi', '-i', 'sine=d=1', '-c:a', 'aac', file]);
    await expect(probeVideo(file)).rejects.toMatchObject({
      permanent: true,
      message: 'video has no video stream',
    });
  });

  it('fails a deleted file as transient', async () => {
    await expect(probeVideo(path.join(dir, 'deleted.mp4'))).rejects.toMatchObject({
      permanent: false,
      message: 'file not found',
    });
  });
});

describe('makeVideoPoster', () => {
  it('skips the black opening and writes the thumbnail, preview and thumbhash', async () => {
    const out = targets('clip');
    const result = await makeVideoPoster(mp4, out, await probeVideo(mp4));

    expect(result).toMatchObject({ width: 1280, height: 720, thumbhash: expect.any(String) });
    expect(await sharp(out.previewPath).metadata()).toMatchObject({
      format: 'jpeg',
      width: 1280,
      height: 720,
    });
    expect(await sharp(out.thumbPath).metadata()).toMatchObject({ format: 'webp', width: 250, height: 141 });
    expect(await mean(out.previewPath)).toBeGreaterThan(40);
  });

  it('honours the rotation of a portrait HEVC MOV', async () => {
    const out = targets('portrait');
    const probe = await probeVideo(mov);
    const result = await makeVideoPoster(mov, out, probe);

    expect(result).toMatchObject({ width: 360, height: 640 });
    expect(await sharp(out.previewPath).metadata()).toMatchObject({ width: 360, height: 640 });
    expect(await mean(out.previewPath)).toBeGreaterThan(40);
    // The same frame taken without rotation and turned by the probed angle must match the poster.
    const upright = await runTool('ffmpeg', [
      ...['-v', 'error', '-noautorotate', '-ss', '1.5', '-i', mov, '-frames:v', '1'],
      ...['-f', 'image2pipe', '-c:v', 'png', '-'],
    ]);
    const expected = await sharp(upright.stdout)
      .rotate(probe.rotation)
      .resize(36, 64, { fit: 'fill' })
      .raw()
      .toBuffer();
    const actual = await sharp(out.previewPath).resize(36, 64, { fit: 'fill' }).raw().toBuffer();
    const difference =
      expected.reduce((sum, value, i) => sum + Math.abs(value - actual[i]!), 0) / expected.length;
    expect(difference).toBeLessThan(12);
  });

  it('decodes only the keyframe before the position, turned by the rotation', async () => {
    // Keyframes every second; 10 % (0.5 s) is black, so the poster is the keyframe before 2.5 s.
    const file = path.join(dir, 'phone.mov');
    await video(file, {
      codec: 'hevc',
      width: 640,
      height: 360,
      seconds: 5,
      blackSeconds: 1,
      keyframeSeconds: 1,
      rotate: 90,
    });
    const out = targets('phone');
    const probe = await probeVideo(file);
    expect(await makeVideoPoster(file, out, probe)).toMatchObject({ width: 360, height: 640 });

    const frameAt = async (seconds: string) => {
      const { stdout } = await runTool('ffmpeg', [
        ...['-v', 'error', '-ss', seconds, '-i', file, '-frames:v', '1'],
        ...['-f', 'image2pipe', '-c:v', 'png', '-'],
      ]);
      return sharp(stdout).resize(36, 64, { fit: 'fill' }).removeAlpha().raw().toBuffer();
    };
    const poster = await sharp(out.previewPath).resize(36, 64, { fit: 'fill' }).raw().toBuffer();
    const [keyframe, exact] = await Promise.all([frameAt('2.0'), frameAt('2.5')]);
    expect(distance(poster, keyframe)).toBeLessThan(6);
    expect(distance(poster, exact)).toBeGreaterThan(distance(poster, keyframe) + 3);
  });

  it('keeps the frame it has when half-way lies past the end of a cut file', async () => {
    // The index (moov) comes first, so the cut file still probes; its data ends before 2 s.
    const source = path.join(dir, 'keyframes.mp4');
    await video(source, {
      codec: 'h264',
      width: 1280,
      height: 720,
      seconds: 4,
      blackSeconds: 1,
      keyframeSeconds: 1,
    });
    const whole = path.join(dir, 'whole.mp4');
    await run('ffmpeg', ['-v', 'error', '-i', source, '-c', 'copy', '-movflags', '+faststart', whole]);
    const { stdout } = await run('ffprobe', [
      ...['-v', 'error', '-select_streams', 'v:0', '-show_entries', 'packet=pts_time,pos', '-of', 'csv=p=0'],
      whole,
    ]);
    const cutAt = stdout
      .trim()
      .split('\n')
      .map((line) => line.split(',').map(Number) as [number, number])
      .find(([seconds]) => seconds >= 1.5)![1];
    const cut = path.join(dir, 'cut.mp4');
    await writeFile(cut, (await readFile(whole)).subarray(0, cutAt));
    const probe = await probeVideo(cut);
    expect(probe.duration).toBeCloseTo(4, 0);

    // 10 % is black; the keyframe before 2 s is gone: the black frame is the poster.
    const out = targets('cut');
    await expect(makeVideoPoster(cut, out, probe)).resolves.toMatchObject({ width: 1280, height: 720 });
    expect(await mean(out.previewPath)).toBeLessThan(24);
  });

  it('refuses a playlist or a concat list named .mp4 instead of reading the files it names', async () => {
    const playlist = path.join(dir, 'playlist.mp4');
    await writeFile(playlist, `#EXTM3U\n#EXT-X-TARGETDURATION:10\n#EXTINF:4.0,\n${mp4}\n#EXT-X-ENDLIST\n`);
    await expect(probeVideo(playlist)).rejects.toMatchObject({
      permanent: true,
      message: 'not a video recording (a hls file, which Nook does not read)',
    });
    const list = path.join(dir, 'list.mp4');
    await writeFile(list, `ffconcat version 1.0\nfile ${path.basename(mp4)}\n`);
    await expect(probeVideo(list)).rejects.toMatchObject({ permanent: true });
    const probe = await probeVideo(mp4);
    await expect(makeVideoPoster(list, targets('list'), probe)).rejects.toMatchObject({
      permanent: true,
      message: 'not a video recording (a concat file, which Nook does not read)',
    });
  });

  it('fails a corrupt MP4 permanently', async () => {
    const file = path.join(dir, 'corrupt.mp4');
    await writeFile(file, await readFile(mp4));
    const probe = await probeVideo(file);
    await truncate(file, 5_000);
    const error = await makeVideoPoster(file, targets('corrupt'), probe).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(MediaError);
    expect((error as MediaError).permanent).toBe(true);
  });
});

describe('external tools', () => {
  it('kills the child when the job is aborted', async () => {
    const fifo = path.join(dir, 'never-written');
    await run('mkfifo', [fifo]);
    const controller = new AbortController();
    // ffmpeg blocks forever on a FIFO nobody writes to: only the abort can end it.
    const pending = runTool('ffmpeg', ['-v', 'error', '-i', fifo, '-f', 'null', '-'], {
      signal: controller.signal,
    });
    await new Promise((resolve) => setTimeout(resolve, 200));
    const started = performance.now();
    controller.abort();
    await expect(pending).rejects.toMatchObject({
      permanent: false,
      message: 'ffmpeg was stopped: the job was aborted',
    });
    expect(performance.now() - started).toBeLessThan(1000);
    const { stdout } = await run('ps', ['-eo', 'args']);
    expect(stdout).not.toContain(fifo);
  });

  it('kills ffprobe and ffmpeg, started through fluent-ffmpeg, when the job is aborted', async () => {
    const stopped = (tool: string) => ({
      permanent: false,
      message: `${tool} was stopped: the job was aborted`,
    });
    expect(await abortWhileRunning('ffprobe', (signal) => probeVideo(mov, { signal }))).toMatchObject(
      stopped('ffprobe'),
    );
    expect(children('ffprobe')).toEqual([]);

    // One keyframe and a black first second: the poster ends in a long exact decode.
    const long = path.join(dir, 'long.mp4');
    await video(long, { codec: 'hevc', width: 1280, height: 720, seconds: 8, blackSeconds: 5 });
    const probe = await probeVideo(long);
    const error = await abortWhileRunning('ffmpeg', (signal) =>
      makeVideoPoster(long, targets('long'), probe, { signal }),
    );
    expect(error).toMatchObject(stopped('ffmpeg'));
    expect(children('ffmpeg')).toEqual([]);
  });

  it('says which package to install when a tool is missing', async () => {
    await expect(runTool('nook-missing-tool', [])).rejects.toMatchObject({
      permanent: false,
      message: 'nook-missing-tool is not installed (Debian package nook-missing-tool)',
    });
  });
});
