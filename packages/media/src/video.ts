// Videos: ffprobe for the facts, ffmpeg for one representative frame that becomes the poster.
import { MediaError, assertReadableFile } from './errors';
import {
  type DecodedFrame,
  PREVIEW_SIZE,
  type ThumbnailResult,
  type ThumbnailTargets,
  writeDerivatives,
} from './thumbnails';
import { ToolFailure, runTool } from './tools';

export interface VideoProbe {
  /** As displayed, i.e. after rotation. */
  width: number;
  height: number;
  /** Seconds; null when the container does not say. */
  duration: number | null;
  /** ffmpeg's codec name: "h264", "hevc", "vp9"… */
  codec: string;
  fps: number | null;
  /** Clockwise degrees the player turns the picture: 0, 90, 180 or 270. */
  rotation: 0 | 90 | 180 | 270;
  takenAt: Date | null;
  /** Only phones that write com.apple.quicktime.creationdate record one. */
  timeZoneOffset: string | null;
  make: string | null;
  model: string | null;
  latitude: number | null;
  longitude: number | null;
}

export interface VideoOptions {
  /** Kills ffprobe or ffmpeg when the job expires. */
  signal?: AbortSignal;
}

interface ProbeStream {
  codec_type?: string;
  codec_name?: string;
  width?: number;
  height?: number;
  avg_frame_rate?: string;
  r_frame_rate?: string;
  duration?: string;
  disposition?: { attached_pic?: number };
  tags?: Record<string, string>;
  side_data_list?: { rotation?: number }[];
}

interface ProbeOutput {
  streams?: ProbeStream[];
  format?: { duration?: string; tags?: Record<string, string> };
}

export async function probeVideo(file: string, options: VideoOptions = {}): Promise<VideoProbe> {
  await assertReadableFile(file);
  let stdout: Buffer;
  try {
    ({ stdout } = await runTool(
      'ffprobe',
      ['-v', 'error', '-print_format', 'json', '-show_format', '-show_streams', '--', file],
      { signal: options.signal },
    ));
  } catch (error) {
    throw videoError(error);
  }
  const probe = JSON.parse(stdout.toString('utf8')) as ProbeOutput;
  const stream = probe.streams?.find((s) => s.codec_type === 'video' && !s.disposition?.attached_pic);
  if (!stream) throw new MediaError('video has no video stream', { permanent: true });
  if (!stream.width || !stream.height) throw new MediaError('video has no picture size', { permanent: true });

  const rotation = rotationOf(stream);
  const turned = rotation === 90 || rotation === 270;
  const tags = { ...stream.tags, ...probe.format?.tags };
  const taken = creationTime(tags);
  const location = iso6709(
    tags['com.apple.quicktime.location.ISO6709'] ?? tags.location ?? tags['location-eng'],
  );
  return {
    width: turned ? stream.height : stream.width,
    height: turned ? stream.width : stream.height,
    duration: positive(Number(probe.format?.duration ?? stream.duration)),
    codec: stream.codec_name ?? 'unknown',
    fps: rate(stream.avg_frame_rate) ?? rate(stream.r_frame_rate),
    rotation,
    takenAt: taken?.date ?? null,
    timeZoneOffset: taken?.offset ?? null,
    make: text(tags['com.apple.quicktime.make'] ?? tags.make ?? tags['com.android.manufacturer']),
    model: text(tags['com.apple.quicktime.model'] ?? tags.model ?? tags['com.android.model']),
    latitude: location?.latitude ?? null,
    longitude: location?.longitude ?? null,
  };
}

/**
 * Tries a frame at 10 % of the video, then at half-way if that one is black (fade-ins,
 * a phone still in a pocket), keeping the brighter. Seeking beats ffmpeg's `thumbnail`
 * filter here: that one decodes every frame of its window, which a Pi pays dearly for in 4K HEVC.
 */
export async function makeVideoPoster(
  file: string,
  targets: ThumbnailTargets,
  probe: VideoProbe,
  options: VideoOptions = {},
): Promise<ThumbnailResult> {
  await assertReadableFile(file);
  const scale = Math.min(1, PREVIEW_SIZE / Math.max(probe.width, probe.height));
  const width = Math.max(1, Math.round(probe.width * scale));
  const height = Math.max(1, Math.round(probe.height * scale));
  const positions = probe.duration ? [probe.duration * 0.1, probe.duration * 0.5] : [0];

  let best: { frame: DecodedFrame; brightness: number } | undefined;
  for (const seconds of positions) {
    const frame = await grabFrame(file, seconds, width, height, options.signal);
    if (!frame) continue;
    const brightness = meanBrightness(frame.data);
    if (!best || brightness > best.brightness) best = { frame, brightness };
    if (brightness >= DARK) break;
  }
  if (!best) throw new MediaError('video has no decodable frame', { permanent: true });
  return { width: probe.width, height: probe.height, ...(await writeDerivatives(best.frame, targets)) };
}

/** Mean of 8-bit RGB below which a frame reads as black. */
const DARK = 24;

async function grabFrame(
  file: string,
  seconds: number,
  width: number,
  height: number,
  signal: AbortSignal | undefined,
): Promise<DecodedFrame | undefined> {
  let stdout: Buffer;
  try {
    // ffmpeg rotates by the display matrix before the scale filter runs, so the size is the displayed one.
    ({ stdout } = await runTool(
      'ffmpeg',
      [
        ...['-nostdin', '-v', 'error', '-ss', seconds.toFixed(3), '-i', file],
        ...['-map', '0:v:0', '-an', '-sn', '-dn', '-frames:v', '1'],
        ...['-vf', `scale=${width}:${height}:flags=bilinear`, '-f', 'rawvideo', '-pix_fmt', 'rgb24', '-'],
      ],
      { signal },
    ));
  } catch (error) {
    throw videoError(error);
  }
  // Seeking past the last decodable frame of a damaged file yields nothing rather than an error.
  if (stdout.length !== width * height * 3) return undefined;
  return { data: stdout, width, height, channels: 3 };
}

function meanBrightness(rgb: Buffer): number {
  let sum = 0;
  let count = 0;
  for (let i = 0; i < rgb.length; i += 3 * 61) {
    sum += rgb[i]! + rgb[i + 1]! + rgb[i + 2]!;
    count += 3;
  }
  return count ? sum / count : 0;
}

function videoError(error: unknown): MediaError {
  if (error instanceof MediaError) return error;
  if (!(error instanceof ToolFailure))
    return new MediaError(String(error), { permanent: false, cause: error });
  const lines = error.stderr
    .trim()
    .split('\n')
    .map((line) => line.replace(/^\[[^\]]+\]\s*/, '').replace(/^.*?: (?=[A-Z])/, ''))
    .filter(Boolean);
  if (lines.some((line) => /Input\/output error|Resource temporarily unavailable/i.test(line))) {
    return new MediaError('input/output error while reading the video', { permanent: false, cause: error });
  }
  const detail = lines.find((line) => /moov atom not found/i.test(line)) ?? lines.at(-1) ?? 'ffmpeg failed';
  return new MediaError(`video is truncated or corrupt (${detail})`, { permanent: true, cause: error });
}

function rotationOf(stream: ProbeStream): VideoProbe['rotation'] {
  // ffprobe reports the display matrix counter-clockwise; older muxers left a clockwise "rotate" tag.
  const matrix = stream.side_data_list?.find((side) => typeof side.rotation === 'number')?.rotation;
  const clockwise = matrix !== undefined ? -matrix : Number(stream.tags?.rotate ?? 0);
  const quarter = ((Math.round(clockwise / 90) % 4) + 4) % 4;
  return ([0, 90, 180, 270] as const)[quarter]!;
}

function rate(value: string | undefined): number | null {
  const [num, den] = (value ?? '').split('/').map(Number);
  if (!num || !den) return null;
  return Math.round((num / den) * 1000) / 1000;
}

function positive(value: number): number | null {
  return Number.isFinite(value) && value > 0 ? value : null;
}

function text(value: string | undefined): string | null {
  return value?.trim() || null;
}

/**
 * Apple's creationdate carries the local offset ("2023-06-01T12:34:56+0200"); creation_time
 * is UTC. Zero dates from cameras without a clock come out as 1904 or 1970.
 */
function creationTime(tags: Record<string, string>): { date: Date; offset: string | null } | null {
  const apple = tags['com.apple.quicktime.creationdate'];
  for (const value of [apple, tags.creation_time]) {
    if (!value) continue;
    const normalised = value.trim().replace(/([+-]\d{2})(\d{2})$/, '$1:$2');
    const date = new Date(normalised);
    if (Number.isNaN(date.getTime()) || date.getUTCFullYear() < 1971) continue;
    const offset = value === apple ? (/([+-]\d{2}:\d{2})$/.exec(normalised)?.[1] ?? null) : null;
    return { date, offset };
  }
  return null;
}

/** ISO 6709 as phones write it: "+48.8584+002.2945+035.000/" (decimal degrees, optional altitude). */
function iso6709(value: string | undefined): { latitude: number; longitude: number } | null {
  const match = /^([+-]\d+(?:\.\d+)?)([+-]\d+(?:\.\d+)?)/.exec(value?.trim() ?? '');
  if (!match) return null;
  const latitude = Number(match[1]);
  const longitude = Number(match[2]);
  if (Math.abs(latitude) > 90 || Math.abs(longitude) > 180) return null;
  return { latitude, longitude };
}
