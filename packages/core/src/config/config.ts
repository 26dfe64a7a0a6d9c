// Nook's configuration: NOOK_* environment variables over an optional <data>/config.json, validated once.
import { existsSync, readFileSync } from 'node:fs';
import { availableParallelism } from 'node:os';
import path from 'node:path';
import { z } from 'zod';
import type { MediaQueueName } from '../queue/jobs';
import { hostNameOf } from '../users/setup-origin';

const integer = (min: number, max: number) => z.coerce.number().int().min(min).max(max);

const logLevels = ['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent'] as const;

/** Every key Nook reads, its validation and its default. `.env.example` mirrors this list. */
export const configSchema = z.object({
  NOOK_DATA_DIR: z.string().min(1).default('./data'),
  NOOK_HOST: z.string().min(1).default('0.0.0.0'),
  NOOK_PORT: integer(1, 65535).default(8080),
  NOOK_DATABASE_URL: z
    .string()
    .regex(/^postgres(ql)?:\/\//, 'expected a postgres:// or postgresql:// URL')
    .optional(),
  NOOK_QUEUE_SCHEMA: z
    .string()
    .regex(/^[a-z_][a-z0-9_]{0,62}$/, 'expected a lower-case SQL identifier')
    .default('pgboss'),
  NOOK_LOG_LEVEL: z.enum(logLevels).default('info'),
  NOOK_TRASH_DAYS: integer(1, 3650).default(30),
  NOOK_TRUST_PROXY: z
    .enum(['true', 'false', '1', '0'], 'expected true or false')
    .default('false')
    .transform((value) => value === 'true' || value === '1'),
  NOOK_MAX_UPLOAD_BYTES: integer(1, Number.MAX_SAFE_INTEGER).default(20 * 1024 ** 3),
  NOOK_UPLOAD_EXPIRY_HOURS: integer(1, 24 * 365).default(24),
  NOOK_METADATA_CONCURRENCY: integer(1, 64).default(Math.max(1, availableParallelism())),
  NOOK_THUMBNAIL_CONCURRENCY: integer(1, 64).default(Math.max(1, availableParallelism())),
  // One ffmpeg at a time already keeps every core of a Pi busy.
  NOOK_VIDEO_CONCURRENCY: integer(1, 16).default(1),
  // Comma-separated origins or host names (https://photos.example.org) Nook is reached by from outside.
  NOOK_PUBLIC_ORIGIN: z
    .string()
    .default('')
    .transform((value) =>
      value
        .split(',')
        .map((entry) => entry.trim())
        .filter(Boolean),
    )
    .pipe(
      z.array(
        z
          .string()
          .transform((entry) => hostNameOf(entry, entry.includes('://') ? 'origin' : 'host'))
          .refine(
            (name) => name !== null,
            'expected origins such as https://photos.example.org, separated by ","',
          ),
      ),
    ),
  // The internal location behind which nginx serves originals itself (X-Accel-Redirect), e.g. /internal-originals/.
  NOOK_ACCEL_REDIRECT: z
    .string()
    .regex(/^\/[A-Za-z0-9._~/-]*\/$/, 'expected an nginx location path such as /internal-originals/')
    .optional(),
  // Separated by ':' like PATH (config.json may hold a JSON array): a path with ':' in it needs the array.
  NOOK_LIBRARY_ROOTS: z
    .union([z.string(), z.array(z.string())])
    .default([])
    .transform((value) =>
      (typeof value === 'string' ? value.split(':') : value).map((entry) => entry.trim()).filter(Boolean),
    )
    .pipe(
      z.array(
        z.string().refine((entry) => path.isAbsolute(entry), 'expected absolute paths separated by ":"'),
      ),
    ),
});

type RawConfig = z.infer<typeof configSchema>;

export interface Config {
  dataDir: string;
  host: string;
  port: number;
  databaseUrl: string | undefined;
  queueSchema: string;
  logLevel: (typeof logLevels)[number];
  trustProxy: boolean;
  /** Days a deleted asset stays restorable before the daily purge removes it. */
  trashDays: number;
  maxUploadBytes: number;
  /** Hours after its creation that an unfinished resumable upload is deleted from <data>/tmp. */
  uploadExpiryHours: number;
  /** Jobs each worker process runs at once, per queue. */
  concurrency: Record<MediaQueueName, number>;
  /** Host names from NOOK_PUBLIC_ORIGIN: besides the home network, where first-run setup may come from. */
  publicHosts: string[];
  /** The folders (and everything below them) a folder library may be made of; empty allows none. */
  libraryRoots: string[];
  /** An nginx `internal` location that serves originals by their path (docs/reverse-proxy.md). */
  accelRedirect: string | undefined;
}

/** A configuration value that cannot be used; its message is one line naming the key. */
export class ConfigError extends Error {
  override name = 'ConfigError';
}

function readConfigFile(dataDir: string): Record<string, unknown> {
  const file = path.join(dataDir, 'config.json');
  if (!existsSync(file)) return {};
  try {
    const parsed: unknown = JSON.parse(readFileSync(file, 'utf8'));
    if (parsed && typeof parsed === 'object' && !Array.isArray(parsed))
      return parsed as Record<string, unknown>;
  } catch (error) {
    throw new ConfigError(`${file}: not valid JSON (${(error as Error).message})`);
  }
  throw new ConfigError(`${file}: expected an object of NOOK_* keys`);
}

function pickNookKeys(source: Record<string, unknown>): Record<string, unknown> {
  return Object.fromEntries(
    Object.entries(source).filter(
      ([key, value]) => key.startsWith('NOOK_') && value !== '' && value !== undefined,
    ),
  );
}

/** Validates the environment (and the data dir's config.json); throws ConfigError on the first bad key. */
export function loadConfig(env: Record<string, string | undefined> = process.env): Config {
  const fromEnv = pickNookKeys(env);
  const dataDir = path.resolve(String(fromEnv.NOOK_DATA_DIR ?? './data'));
  const merged = { ...pickNookKeys(readConfigFile(dataDir)), ...fromEnv };
  const result = configSchema.safeParse(merged);
  if (!result.success) {
    const issue = result.error.issues[0]!;
    const key = String(issue.path[0] ?? 'config');
    const got = key in merged ? ` (got ${JSON.stringify(merged[key])})` : '';
    throw new ConfigError(`${key}: ${issue.message}${got}`);
  }
  return toConfig(result.data);
}

function toConfig(raw: RawConfig): Config {
  return {
    dataDir: path.resolve(raw.NOOK_DATA_DIR),
    host: raw.NOOK_HOST,
    port: raw.NOOK_PORT,
    databaseUrl: raw.NOOK_DATABASE_URL,
    queueSchema: raw.NOOK_QUEUE_SCHEMA,
    logLevel: raw.NOOK_LOG_LEVEL,
    trustProxy: raw.NOOK_TRUST_PROXY,
    trashDays: raw.NOOK_TRASH_DAYS,
    maxUploadBytes: raw.NOOK_MAX_UPLOAD_BYTES,
    uploadExpiryHours: raw.NOOK_UPLOAD_EXPIRY_HOURS,
    concurrency: {
      metadata: raw.NOOK_METADATA_CONCURRENCY,
      thumbnail: raw.NOOK_THUMBNAIL_CONCURRENCY,
      'video-poster': raw.NOOK_VIDEO_CONCURRENCY,
    },
    publicHosts: raw.NOOK_PUBLIC_ORIGIN.filter((name): name is string => name !== null),
    libraryRoots: [...new Set(raw.NOOK_LIBRARY_ROOTS.map((root) => path.resolve(root)))],
    accelRedirect: raw.NOOK_ACCEL_REDIRECT,
  };
}
