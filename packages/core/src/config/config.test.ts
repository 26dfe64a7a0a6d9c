// Configuration: defaults for a laptop, one clear line for a bad value, config.json under the environment.
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { ConfigError, loadConfig } from './config';

describe('loadConfig', () => {
  let dir: string;

  beforeEach(async () => {
    dir = await mkdtemp(path.join(tmpdir(), 'nook-config-'));
  });

  afterEach(async () => {
    await rm(dir, { recursive: true, force: true });
  });

  it('defaults to ./data on port 8080 of every interface, with the embedded queue database', () => {
    const config = loadConfig({});
    expect(config).toMatchObject({
      dataDir: path.resolve('data'),
      host: '0.0.0.0',
      trustProxy: false,
      port: 8080,
      databaseUrl: undefined,
      queueSchema: 'pgboss',
      logLevel: 'info',
      accelRedirect: undefined,
    });
    expect(config.concurrency.thumbnail).toBeGreaterThanOrEqual(1);
    expect(config.concurrency['video-poster']).toBe(1);
  });

  it('reads NOOK_* values from the environment and ignores empty ones', () => {
    const config = loadConfig({
      NOOK_DATA_DIR: dir,
      NOOK_PORT: '9000',
      NOOK_HOST: '0.0.0.0',
      NOOK_DATABASE_URL: 'postgresql://nook@db.lan/nook',
      NOOK_LOG_LEVEL: '',
    });
    expect(config).toMatchObject({
      dataDir: dir,
      port: 9000,
      host: '0.0.0.0',
      databaseUrl: 'postgresql://nook@db.lan/nook',
      logLevel: 'info',
    });
  });

  it.each([
    ['NOOK_PORT', 'eighty'],
    ['NOOK_PORT', '70000'],
    ['NOOK_LOG_LEVEL', 'loud'],
    ['NOOK_DATABASE_URL', 'mysql://x'],
    ['NOOK_QUEUE_SCHEMA', 'Robert"); DROP'],
    ['NOOK_MAX_UPLOAD_BYTES', '-1'],
    ['NOOK_TRUST_PROXY', 'maybe'],
    ['NOOK_LIBRARY_ROOTS', '/srv/photos:relative/folder'],
    ['NOOK_ACCEL_REDIRECT', 'internal-originals'],
    ['NOOK_ACCEL_REDIRECT', '/with space/'],
  ])('refuses %s=%s with one line naming the key', (key, value) => {
    expect(() => loadConfig({ [key]: value })).toThrow(ConfigError);
    try {
      loadConfig({ [key]: value });
    } catch (error) {
      const message = (error as Error).message;
      expect(message.startsWith(`${key}: `)).toBe(true);
      expect(message).not.toContain('\n');
    }
  });

  it('takes config.json in the data dir as defaults under the environment', async () => {
    await writeFile(
      path.join(dir, 'config.json'),
      JSON.stringify({ NOOK_PORT: 8123, NOOK_LOG_LEVEL: 'debug' }),
    );
    expect(loadConfig({ NOOK_DATA_DIR: dir })).toMatchObject({ port: 8123, logLevel: 'debug' });
    expect(loadConfig({ NOOK_DATA_DIR: dir, NOOK_PORT: '8200' })).toMatchObject({
      port: 8200,
      logLevel: 'debug',
    });
  });

  it('allows no folder library until NOOK_LIBRARY_ROOTS lists absolute folders, ":"-separated or as a JSON array', async () => {
    expect(loadConfig({}).libraryRoots).toEqual([]);
    expect(loadConfig({ NOOK_LIBRARY_ROOTS: '/srv/photos/:/mnt/nas::/srv/photos' }).libraryRoots).toEqual([
      '/srv/photos',
      '/mnt/nas',
    ]);
    await writeFile(path.join(dir, 'config.json'), JSON.stringify({ NOOK_LIBRARY_ROOTS: ['/media/a:b'] }));
    expect(loadConfig({ NOOK_DATA_DIR: dir }).libraryRoots).toEqual(['/media/a:b']);
  });

  it('names the file when config.json is not JSON', async () => {
    await writeFile(path.join(dir, 'config.json'), '{ port: ');
    expect(() => loadConfig({ NOOK_DATA_DIR: dir })).toThrow(/config\.json: not valid JSON/);
  });
});
