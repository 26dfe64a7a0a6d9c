// `nook doctor`'s checks against real files, a real SQLite database and the test PostgreSQL.
import { mkdir, rm, symlink, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { makeTempDir, queueDatabaseUrl } from '../../../../test/harness';
import { loadConfig } from '../config/config';
import { openDatabase } from '../db/orm';
import { Asset } from '../assets/asset.entity';
import { Library } from '../libraries/library.entity';
import { recordUploadSavingSql } from '../sql/totals';
import { CLI_ACTOR } from '../audit/audit.service';
import { UserService } from '../users/user.service';
import { runDoctor, type DoctorCheck } from './doctor';

const dirs: string[] = [];
afterEach(async () => {
  await Promise.all(dirs.splice(0).map((dir) => rm(dir, { recursive: true, force: true })));
});

async function tempDir(): Promise<string> {
  const dir = await makeTempDir('nook-doctor-');
  dirs.push(dir);
  return dir;
}

/** A data dir with a migrated nook.db, an admin, and the given folder libraries. */
async function dataDirWith(
  libraries: { name: string; root: string; directories?: number }[],
): Promise<string> {
  const root = await tempDir();
  for (const sub of ['library', 'derived', 'tmp']) await mkdir(path.join(root, sub));
  const orm = await openDatabase(root);
  try {
    const em = orm.em.fork();
    const owner = await new UserService(em).setUp(
      { username: 'admin', password: 'correct horse battery' },
      CLI_ACTOR,
    );
    for (const library of libraries) {
      em.create(Library, {
        name: library.name,
        type: 'folder',
        rootPath: library.root,
        owner,
        filesystem: 'ext4',
        lastScanStats:
          library.directories === undefined
            ? null
            : {
                seen: 0,
                directories: library.directories,
                added: 0,
                changed: 0,
                moved: 0,
                missing: 0,
                restored: 0,
                unreadable: 0,
                hashed: 0,
                durationMs: 0,
              },
      });
    }
    await em.flush();
  } finally {
    await orm.close();
  }
  return root;
}

const configFor = (dataDir: string, databaseUrl = queueDatabaseUrl()) =>
  loadConfig({ NOOK_DATA_DIR: dataDir, NOOK_DATABASE_URL: databaseUrl });

const byName = (checks: DoctorCheck[], name: string) => {
  const check = checks.find((c) => c.name === name);
  if (!check) throw new Error(`no check named ${name}: ${checks.map((c) => c.name).join(', ')}`);
  return check;
};

describe('nook doctor', () => {
  it('finds nothing wrong with a healthy installation', async () => {
    const photos = await tempDir();
    const dataDir = await dataDirWith([{ name: 'Photos', root: photos, directories: 10 }]);
    const checks = await runDoctor(configFor(dataDir), { minFreeBytes: 1, inotifyWatchLimit: 8192 });
    expect(checks.filter((check) => check.status !== 'ok')).toEqual([]);
    expect(byName(checks, 'library "Photos"').detail).toContain(photos);
    expect(byName(checks, 'queue database').detail).toMatch(/^PostgreSQL \d+/);
    expect(byName(checks, 'metadata database').detail).toContain('intact, up to date');
  });

  it('names each missing tool with the package that brings it', async () => {
    const dataDir = await dataDirWith([]);
    const bin = await tempDir();
    // Only ffmpeg on this PATH.
    await symlink(
      (await runDoctor(configFor(dataDir))).find((c) => c.name === 'ffmpeg')!.detail,
      path.join(bin, 'ffmpeg'),
    );
    const checks = await runDoctor(configFor(dataDir), { path: bin, minFreeBytes: 1 });
    expect(byName(checks, 'ffmpeg').status).toBe('ok');
    expect(byName(checks, 'ffprobe')).toMatchObject({ status: 'fail', fix: 'sudo apt-get install ffmpeg' });
    expect(byName(checks, 'heif-convert')).toMatchObject({
      status: 'fail',
      fix: 'sudo apt-get install libheif-examples',
    });
    expect(byName(checks, 'exiftool')).toMatchObject({
      status: 'fail',
      fix: 'sudo apt-get install libimage-exiftool-perl',
    });
  });

  it('fails when the disk is nearly full, and warns when it is getting there', async () => {
    const dataDir = await dataDirWith([]);
    const full = await runDoctor(configFor(dataDir), { minFreeBytes: Number.MAX_SAFE_INTEGER });
    expect(byName(full, 'disk space')).toMatchObject({ status: 'fail' });
    expect(byName(full, 'disk space').detail).toMatch(/free of .* uploads and thumbnails will fail/);
    const free = byName(await runDoctor(configFor(dataDir), { minFreeBytes: 1 }), 'disk space');
    expect(free.status).toBe('ok');
  });

  it('warns when watched folders need more inotify watches than the system allows, with the sysctl', async () => {
    const photos = await tempDir();
    const dataDir = await dataDirWith([{ name: 'Photos', root: photos, directories: 300_000 }]);
    const check = byName(await runDoctor(configFor(dataDir), { inotifyWatchLimit: 65536 }), 'inotify');
    expect(check.status).toBe('warn');
    expect(check.detail).toContain('300000 watched folders');
    expect(check.fix).toContain('fs.inotify.max_user_watches=1048576');
  });

  it('fails for a library root that is missing or not a folder', async () => {
    const parent = await tempDir();
    const file = path.join(parent, 'a-file');
    await writeFile(file, 'x');
    const dataDir = await dataDirWith([
      { name: 'Gone', root: path.join(parent, 'unmounted') },
      { name: 'File', root: file },
    ]);
    const checks = await runDoctor(configFor(dataDir), { minFreeBytes: 1 });
    expect(byName(checks, 'library "Gone"')).toMatchObject({ status: 'fail' });
    expect(byName(checks, 'library "Gone"').detail).toContain('does not exist');
    expect(byName(checks, 'library "Gone"').fix).toContain('install.sh --library');
    expect(byName(checks, 'library "File"').detail).toContain('is not a folder');
  });

  it('fails for a damaged metadata database and an unreachable queue database', async () => {
    const dataDir = await tempDir();
    await writeFile(path.join(dataDir, 'nook.db'), Buffer.alloc(8192, 'not a database'));
    const checks = await runDoctor(configFor(dataDir, 'postgresql://nook@127.0.0.1:1/nook'), {
      minFreeBytes: 1,
    });
    expect(byName(checks, 'metadata database')).toMatchObject({ status: 'fail' });
    expect(byName(checks, 'metadata database').fix).toContain('docs/backups.md');
    expect(byName(checks, 'queue database')).toMatchObject({ status: 'fail' });
    expect(byName(checks, 'queue database').detail).toContain('cannot connect');
  });

  it('lists files that left a watched folder, kept nowhere else, for a user whose uploads were answered as duplicates', async () => {
    const photos = await tempDir();
    const dataDir = await dataDirWith([{ name: 'Photos', root: photos }]);
    const orm = await openDatabase(dataDir);
    try {
      const em = orm.em.fork();
      const library = await em.findOneOrFail(Library, { name: 'Photos' }, { populate: ['owner'] });
      const file = (name: string, offline: boolean) =>
        em.create(Asset, {
          library,
          owner: library.owner,
          path: name,
          name,
          size: 10,
          mtime: new Date(),
          sha256: name.padEnd(64, '0').replace(/[^0-9a-f]/g, 'a'),
          mime: 'image/jpeg',
          kind: 'image',
          takenAt: new Date(),
          offlineAt: offline ? new Date() : null,
        });
      file('left.jpg', true);
      file('still-here.jpg', false);
      await em.flush();
      // Without a recorded duplicate answer nothing points at a swallowed upload.
      expect((await runDoctor(configFor(dataDir), { minFreeBytes: 1 })).map((c) => c.name)).not.toContain(
        'uploads answered by a folder copy',
      );
      await em.getConnection().execute(recordUploadSavingSql, [library.owner.id, 10]);
    } finally {
      await orm.close();
    }
    const check = byName(
      await runDoctor(configFor(dataDir), { minFreeBytes: 1 }),
      'uploads answered by a folder copy',
    );
    expect(check.status).toBe('warn');
    expect(check.lines).toEqual([
      'admin: 1 file(s)',
      expect.stringMatching(/^ {2}left\.jpg {2}sha256 [0-9a-f]{64} {2}added \d{4}-\d{2}-\d{2}$/),
    ]);
  });

  it('warns, without failing, about a data dir where Nook has not run yet', async () => {
    const dataDir = await tempDir();
    const checks = await runDoctor(loadConfig({ NOOK_DATA_DIR: dataDir }), { minFreeBytes: 1 });
    expect(byName(checks, 'metadata database').status).toBe('warn');
    expect(checks.filter((check) => check.status === 'fail')).toEqual([]);
  });
});
