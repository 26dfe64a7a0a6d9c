// Videos: ffprobe for the facts, ffmpeg for one representative frame that becomes the poster,
// both through fluent-ffmpeg.
import path from 'node:path';
import { PassThrough, Readable } from 'node:stream';
import ffmpeg from 'fluent-ffmpeg';
import { MediaError, assertReadableFile } from './errors';
import {
  type DecodedFrame,
  PREVIEW_SIZE,
  type ThumbnailResult,
  type ThumbnailTargets,
  writeDerivatives,
} from './thumbnails';
import { ToolFailure, killChildren } from './tools';

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

/**
 * The containers cameras and phones record, and no others: an HLS playlist or a concat list
 * named .mp4 would otherwise make ffmpeg open the files it names (another user's video, say)
 * and show them as this upload's poster and facts. Nested opens stay on local files.
 */
const CONFINED = [
  ...['-format_whitelist', 'mov,matroska,avi,mpegts,mpeg,flv,asf,ogg,dv,mxf,h264,hevc'],
  ...['-protocol_whitelist', 'file'],
];

export async function probeVideo(file: string, options: VideoOptions = {}): Promise<VideoProbe> {
  await assertReadableFile(file);
  const probe = await ffprobe(file, options.signal);
  const stream = probe.streams.find((s) => s.codec_type === 'video' && !s.disposition?.attached_pic);
  if (!stream) throw new MediaError('video has no video stream', { permanent: true });
  if (!stream.width || !stream.height) throw new MediaError('video has no picture size', { permanent: true });

  const rotation = rotationOf(stream);
  const turned = rotation === 90 || rotation === 270;
  const tags: Record<string, string> = { ...stream.tags, ...probe.format.tags };
  const taken = creationTime(tags);
  const location = iso6709(
    tags['com.apple.quicktime.location.ISO6709'] ?? tags.location ?? tags['location-eng'],
  );
  return {
    width: turned ? stream.height : stream.width,
    height: turned ? stream.width : stream.height,
    duration: positive(Number(probe.format.duration ?? stream.duration)),
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
 * fluent-ffmpeg's ffprobe keeps its child process to itself, so an abort finds the child
 * among ours by its arguments and kills it; the promise settles once ffprobe has exited.
 */
function ffprobe(file: string, signal: AbortSignal | undefined): Promise<ffmpeg.FfprobeData> {
  const input = inputUrl(file);
  return new Promise((resolve, reject) => {
    if (signal?.aborted) return reject(aborted('ffprobe', signal.reason));
    const onAbort = () => void killChildren('ffprobe', input);
    signal?.addEventListener('abort', onAbort, { once: true });
    ffmpeg.ffprobe(input, ['-v', 'error', ...CONFINED], (error: unknown, data: ffmpeg.FfprobeData) => {
      signal?.removeEventListener('abort', onAbort);
      // An abort's cause is the kill ffprobe died of, when it was still running.
      if (signal?.aborted) reject(aborted('ffprobe', error ?? signal.reason));
      else if (error) reject(videoError(fluentFailure('ffprobe', error)));
      else resolve(data);
    });
  });
}

/**
 * Picks a poster frame decoding as little as possible: the keyframe at or before 10 % of the
 * video, then the one before half-way if that is black (fade-ins, a phone still in a pocket).
 * Phones record a keyframe about every second, so each try decodes one frame. Only when both
 * keyframes are dark (a long dark opening, or one keyframe for the whole clip) is the exact
 * frame at half-way decoded, which costs every frame from its keyframe on.
 *
 * A keyframe is copied out of the file as one packet, then decoded alone. Decoding it in place
 * with `-skip_frame nokey` costs more: the HEVC decoder holds a picture until its reorder
 * delay has passed, so it decoded the next two keyframes as well (4K HEVC: 0.28 against 0.18
 * CPU seconds, 267 against 158 MB).
 */
export async function makeVideoPoster(
  file: string,
  targets: ThumbnailTargets,
  probe: VideoProbe,
  options: VideoOptions = {},
): Promise<ThumbnailResult> {
  await assertReadableFile(file);
  const { signal } = options;
  const positions = probe.duration ? [probe.duration * 0.1, probe.duration * 0.5] : [0];
  let best: { frame: DecodedFrame; brightness: number } | undefined;
  const consider = (frame: DecodedFrame | undefined) => {
    if (!frame) return false;
    const brightness = meanBrightness(frame.data);
    if (!best || brightness > best.brightness) best = { frame, brightness };
    return brightness >= DARK;
  };

  let previous: Buffer | undefined;
  let bright = false;
  for (const seconds of positions) {
    const packet = await runCommand(
      ffmpeg(inputUrl(file))
        // -noaccurate_seek starts at the keyframe before the position; stream copy decodes nothing.
        .inputOptions(['-nostdin', '-v', 'error', ...CONFINED, '-ss', seconds.toFixed(3), '-noaccurate_seek'])
        .outputOptions(['-map', '0:v:0', '-c:v', 'copy', '-frames:v', '1'])
        .format('nut'),
      signal,
    );
    // The same keyframe again (a clip with few keyframes) would decode to the same dark frame.
    if (previous?.equals(packet)) continue;
    previous = packet;
    // A position past the end of a cut file copies no packet, which ffmpeg then refuses to decode:
    // no frame there, as when an exact seek finds none.
    const frame = await decodeFrame(ffmpeg(Readable.from([packet])).inputFormat('nut'), probe, signal).catch(
      (error: unknown) => {
        if (error instanceof MediaError && error.permanent) return undefined;
        throw error;
      },
    );
    bright = consider(frame);
    if (bright) break;
  }
  if (!bright && probe.duration) {
    const seek = ['-noautorotate', '-ss', (probe.duration * 0.5).toFixed(3)];
    const input = ffmpeg(inputUrl(file)).inputOptions(['-nostdin', ...CONFINED, ...seek]);
    consider(await decodeFrame(input, probe, signal));
  }
  if (!best) throw new MediaError('video has no decodable frame', { permanent: true });
  return { width: probe.width, height: probe.height, ...(await writeDerivatives(best.frame, targets)) };
}

/** Mean of 8-bit RGB below which a frame reads as black. */
const DARK = 24;

/** The filters that turn a coded picture clockwise as a player does. */
const TURN: Record<VideoProbe['rotation'], string[]> = {
  0: [],
  90: ['transpose=clock'],
  180: ['hflip', 'vflip'],
  270: ['transpose=cclock'],
};

/**
 * Decodes the first frame of the input, scaled in the filter graph to the preview size and
 * turned by the probed rotation, so that only preview-sized RGB comes back.
 */
async function decodeFrame(
  input: ffmpeg.FfmpegCommand,
  probe: VideoProbe,
  signal: AbortSignal | undefined,
): Promise<DecodedFrame | undefined> {
  const scale = Math.min(1, PREVIEW_SIZE / Math.max(probe.width, probe.height));
  const width = Math.max(1, Math.round(probe.width * scale));
  const height = Math.max(1, Math.round(probe.height * scale));
  const turned = probe.rotation === 90 || probe.rotation === 270;
  const command = input
    .inputOptions(['-v', 'error'])
    .outputOptions(['-map', '0:v:0', '-an', '-sn', '-dn', '-frames:v', '1'])
    .videoFilters([
      `scale=${turned ? height : width}:${turned ? width : height}:flags=bilinear`,
      ...TURN[probe.rotation],
    ])
    .outputOptions(['-pix_fmt', 'rgb24'])
    .format('rawvideo');
  const stdout = await runCommand(command, signal);
  // Seeking past the last decodable frame of a damaged file yields nothing rather than an error.
  if (stdout.length !== width * height * 3) return undefined;
  return { data: stdout, width, height, channels: 3 };
}

/**
 * Runs a fluent-ffmpeg command into memory, killed with SIGKILL when the signal aborts
 * (ffmpeg traps SIGTERM and ignores it while it blocks on input). Settles only once ffmpeg
 * has exited and its output has been read.
 */
function runCommand(command: ffmpeg.FfmpegCommand, signal: AbortSignal | undefined): Promise<Buffer> {
  return new Promise((resolve, reject) => {
    if (signal?.aborted) return reject(aborted('ffmpeg', signal.reason));
    // No 'close' event: fluent-ffmpeg fails a command whose output stream closes before ffmpeg exits.
    const output = new PassThrough({ emitClose: false });
    const chunks: Buffer[] = [];
    let finished = 0;
    let failure: MediaError | undefined;
    let killed: unknown;
    const settle = () => {
      if (++finished < 2) return;
      signal?.removeEventListener('abort', onAbort);
      // An abort's cause is the kill ffmpeg died of, when it was still running.
      if (signal?.aborted) reject(aborted('ffmpeg', killed ?? signal.reason));
      else if (failure) reject(failure);
      else resolve(Buffer.concat(chunks));
    };
    const onAbort = () => command.kill('SIGKILL');
    output.on('data', (chunk: Buffer) => chunks.push(chunk));
    output.on('end', settle);
    command.on('start', () => {
      if (signal?.aborted) command.kill('SIGKILL');
    });
    command.on('error', (error, _stdout, stderr) => {
      killed = error;
      failure = videoError(fluentFailure('ffmpeg', error, stderr ?? undefined));
      // The output stream never started (no ffmpeg found) or was cut: end it so settle runs.
      output.end();
      settle();
    });
    command.on('end', settle);
    signal?.addEventListener('abort', onAbort, { once: true });
    command.output(output).run();
  });
}

/** An absolute file: URL, so that no name is read as an option or another protocol (concat:, pipe:…). */
function inputUrl(file: string): string {
  return `file:${path.resolve(file)}`;
}

/** fluent-ffmpeg reports failures as text; this gives them the shape runTool's failures have. */
function fluentFailure(tool: string, error: unknown, stderr?: string): MediaError | ToolFailure {
  const message = error instanceof Error ? error.message : String(error);
  if (/^Cannot find (ffmpeg|ffprobe)|ENOENT/.test(message)) {
    return new MediaError(`${tool} is not installed (Debian package ffmpeg)`, {
      permanent: false,
      cause: error,
    });
  }
  // ffprobe's error carries stderr after its first line; ffmpeg's comes separately.
  const detail = stderr ?? message.split('\n').slice(1).join('\n');
  return new ToolFailure(tool, Buffer.alloc(0), detail, error);
}

function aborted(tool: string, reason: unknown): MediaError {
  return new MediaError(`${tool} was stopped: the job was aborted`, { permanent: false, cause: reason });
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
  const refused = /\[(\w+) @ [^\]]*\] Format not on whitelist/.exec(error.stderr)?.[1];
  if (refused) {
    return new MediaError(`not a video recording (a ${refused} file, which Nook does not read)`, {
      permanent: true,
      cause: error,
    });
  }
  if (lines.some((line) => /Input\/output error|Resource temporarily unavailable/i.test(line))) {
    return new MediaError('input/output error while reading the video', { permanent: false, cause: error });
  }
  const detail = lines.find((line) => /moov atom not found/i.test(line)) ?? lines.at(-1) ?? 'ffmpeg failed';
  return new MediaError(`video is truncated or corrupt (${detail})`, { permanent: true, cause: error });
}

function rotationOf(stream: ffmpeg.FfprobeStream): VideoProbe['rotation'] {
  // fluent-ffmpeg lifts the display matrix's "rotation" (counter-clockwise) onto the stream;
  // older muxers left a clockwise "rotate" tag instead.
  const matrix: unknown = stream.rotation;
  const clockwise = typeof matrix === 'number' ? -matrix : Number(stream.tags?.rotate ?? 0);
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
