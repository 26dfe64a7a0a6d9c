// Backup runs against real directories and mounts: incremental copies, a missing, read-only or full
// target, a file changing mid-copy, a killed run, deletions with a grace period, verify and bit rot.
import { execFileSync, spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { appendFile, mkdir, readFile, readdir, rm, stat, utimes, writeFile } from 'node:fs/promises';
import { hostname } from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { TestClient } from '../../../../test/harness';
import { makeTempDir, setUpAdmin, startTestNook, type TestNook } from '../../../../test/harness';
import { Asset } from '../assets/asset.entity';
import { hashFile } from '../ingest/hash';
import { Library } from '../libraries/library.entity';
import { createLogger } from '../logging/logger';
import { BackupRun } from './backup-run.entity';
import { BackupService } from './backup.service';
import type { Manifest } from './manifest';
import { readIndex } from './mirror-index';
import { BackupRunner } from './runner';
import { lockTarget, targetLayout, trackRun, untrackRun } from './target';
import { verifyTarget } from './verify';

const nookBin = fileURLToPath(new URL('../../../../apps/cli/bin/nook.js', import.meta.url));
const asRoot = process.getuid?.() === 0;

/** Every file under `dir`, relative, with forward slashes. */
async function filesUnder(dir: string): Promise<string[]> {
  const out: string[] = [];
  const walk = async (current: string) => {
    for (const entry of await readdir(current, { withFileTypes: true })) {
      const full = path.join(current, entry.name);
      if (entry.isDirectory()) await walk(full);
      else out.push(path.relative(dir, full).split(path.sep).join('/'));
    }
  };
  await walk(dir).catch(() => undefined);
  return out.sort();
}

describe('backup runs', () => {
  let nook: TestNook;
  let client: TestClient;
  let scratch: string;
  const logger = createLogger('silent', false);

  const runner = () => new BackupRunner(nook.orm.em.fork(), nook.dataDir, logger);
  const service = () => new BackupService(nook.orm.em.fork(), nook.dataDir, nook.queue);

  const upload = async (files: { name: string; data: Buffer }[]) => {
    const response = await client.upload(files);
    expect(response.status).toBe(201);
    return (await response.json()) as { id: string; sha256: string }[];
  };

  const schedule = async (targetDir: string, changes: Record<string, unknown> = {}) =>
    (
      await service().create({
        name: `backup ${path.basename(targetDir)}`,
        cron: '0 3 * * *',
        targetDir,
        ...changes,
      })
    ).schedule;

  /** The mirror never holds a file under its final name whose content is not what Nook recorded. */
  const expectOnlyWholeFiles = async (targetDir: string) => {
    const assets = await nook.orm.em.fork().find(Asset, {}, { populate: ['library'] });
    const byPath = new Map(
      assets.map((asset) => [`${asset.library.getEntity().rootPath}/${asset.path}`, asset.sha256]),
    );
    for (const rel of await filesUnder(path.join(targetDir, 'data'))) {
      expect(byPath.get(rel), rel).toBe((await hashFile(path.join(targetDir, 'data', rel))).sha256);
    }
  };

  beforeAll(async () => {
    nook = await startTestNook({ workers: false });
    client = await setUpAdmin(nook.url);
    scratch = await makeTempDir('nook-backup-scratch-');
    await upload(
      Array.from({ length: 12 }, (_, i) => ({ name: `file-${i}.bin`, data: randomBytes(64 * 1024 + i) })),
    );
  });

  afterAll(async () => {
    await nook?.close();
    await rm(scratch, { recursive: true, force: true });
  });

  it('copies everything once, then only what is new, with a snapshot and manifest each time', async () => {
    const target = path.join(scratch, 'incremental');
    await mkdir(target);
    const { id } = await schedule(target, { keepSnapshots: 2 });
    const progress: string[] = [];
    const first = await runner().backup(id, { onProgress: (p) => progress.push(p.phase) });
    expect(first).toMatchObject({ status: 'succeeded', filesCopied: 12, filesSkipped: 0, error: null });
    expect(progress).toContain('snapshot');
    expect(progress).toContain('copying');
    await expectOnlyWholeFiles(target);
    const [snapshot] = await readdir(path.join(target, 'snapshots'));
    const manifest = JSON.parse(
      await readFile(path.join(target, 'snapshots', snapshot!, 'manifest.json'), 'utf8'),
    ) as Manifest;
    expect(manifest.assets).toHaveLength(12);
    expect(manifest.assets.every((asset) => asset.backupPath?.startsWith('data/library/'))).toBe(true);
    expect((await hashFile(path.join(target, 'snapshots', snapshot!, 'nook.db'))).sha256).toBe(
      manifest.database.sha256,
    );
    expect(await readdir(target)).not.toContain('.partial');
    expect(await readdir(target)).not.toContain('.nook-backup.lock');

    const second = await runner().backup(id);
    expect(second.error).toBeNull();
    expect(second).toMatchObject({ status: 'succeeded', filesCopied: 0, filesSkipped: 12 });

    await upload([{ name: 'new.bin', data: randomBytes(10_000) }]);
    // Snapshot names have one-second resolution.
    await new Promise((resolve) => setTimeout(resolve, 1100));
    const third = await runner().backup(id);
    expect(third).toMatchObject({
      status: 'succeeded',
      filesCopied: 1,
      filesSkipped: 12,
      bytesCopied: 10_000,
    });
    // keepSnapshots: 2
    expect(await readdir(path.join(target, 'snapshots'))).toHaveLength(2);
    const runs = await service().runs({ scheduleId: id });
    expect(runs.map((run) => run.status)).toEqual(['succeeded', 'succeeded', 'succeeded']);
    expect((await verifyTarget(target, { samplePercent: 100 })).problems).toEqual([]);
  });

  it('fails with a clear reason when the target is missing at run time, and completes once it is back', async () => {
    const target = path.join(scratch, 'usb');
    await mkdir(target);
    const { id } = await schedule(target);
    await rm(target, { recursive: true });
    const failed = await runner().backup(id);
    expect(failed.status).toBe('failed');
    expect(failed.error).toMatch(/is missing \(is the disk unplugged/);
    await mkdir(target);
    expect((await runner().backup(id)).status).toBe('succeeded');
  });

  it.runIf(asRoot)('fails on a read-only target and writes nothing', async () => {
    const target = path.join(scratch, 'readonly');
    await mkdir(target);
    const { id } = await schedule(target);
    execFileSync('mount', ['--bind', target, target]);
    try {
      execFileSync('mount', ['-o', 'remount,bind,ro', target]);
      const failed = await runner().backup(id);
      expect(failed.status).toBe('failed');
      expect(failed.error).toMatch(/read-only/);
      expect(await filesUnder(target)).toEqual([]);
      execFileSync('mount', ['-o', 'remount,bind,rw', target]);
      expect((await runner().backup(id)).status).toBe('succeeded');
    } finally {
      execFileSync('umount', [target]);
    }
  });

  it.runIf(asRoot)(
    'stops on a full target without a half-written file, and completes with room',
    async () => {
      const target = path.join(scratch, 'small');
      await mkdir(target);
      // Room for the snapshot and a few originals, not all twelve.
      execFileSync('mount', ['-t', 'tmpfs', '-o', 'size=600k', 'tmpfs', target]);
      try {
        const { id } = await schedule(target);
        const failed = await runner().backup(id);
        expect(failed.status).toBe('failed');
        expect(failed.error).toMatch(/is full/);
        await expectOnlyWholeFiles(target);
        expect(await filesUnder(path.join(target, '.partial'))).toEqual([]);
        execFileSync('mount', ['-o', 'remount,size=16m', target]);
        const next = await runner().backup(id);
        expect(next.status).toBe('succeeded');
        await expectOnlyWholeFiles(target);
        expect((await verifyTarget(target, { samplePercent: 100 })).problems).toEqual([]);
      } finally {
        execFileSync('umount', [target]);
      }
    },
  );

  it('reports a file that changes while it is copied, never keeps it, and copies it next time', async () => {
    const target = path.join(scratch, 'changing');
    await mkdir(target);
    const { id } = await schedule(target);
    const asset = (await nook.orm.em.fork().find(Asset, {}, { populate: ['library'], limit: 1 }))[0]!;
    const rel = `data/${asset.library.getEntity().rootPath}/${asset.path}`;
    const source = path.join(nook.dataDir.resolveLibraryRoot(asset.library.getEntity().rootPath), asset.path);
    const original = await readFile(source);
    let touched = false;
    const run = await runner().backup(id, {
      onProgress: (progress) => {
        // A writer appends just as the copy of this file starts.
        if (progress.current === rel && !touched) {
          touched = true;
          void appendFile(source, 'more bytes');
        }
      },
    });
    expect(touched).toBe(true);
    expect(run.status).toBe('partial');
    expect(run.errors).toEqual([
      { path: rel, reason: expect.stringMatching(/changed while being copied|no longer matches/) },
    ]);
    await expect(stat(path.join(target, rel))).rejects.toMatchObject({ code: 'ENOENT' });
    await expectOnlyWholeFiles(target);

    await writeFile(source, original);
    const next = await runner().backup(id);
    expect(next.error).toBeNull();
    expect(next).toMatchObject({ status: 'succeeded', filesCopied: 1 });
    await expectOnlyWholeFiles(target);
  });

  it('survives being killed mid-run: the run shows as interrupted and the next one completes', async () => {
    await upload(
      Array.from({ length: 20 }, (_, i) => ({ name: `big-${i}.bin`, data: randomBytes(1024 * 1024) })),
    );
    const target = path.join(scratch, 'killed');
    await mkdir(target);
    const { id } = await schedule(target);
    // 10 MB/s: about two seconds of copying, so the kill lands mid-run on any machine.
    const child = spawn(process.execPath, [nookBin, 'backup', 'run', id, '--limit', '10'], {
      env: { ...process.env, NOOK_DATA_DIR: nook.dataDir.root, NOOK_LOG_LEVEL: 'warn' },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let output = '';
    await new Promise<void>((resolve, reject) => {
      child.stderr!.on('data', (chunk: Buffer) => {
        output += chunk.toString();
        // Killed once it is copying with some files done.
        if (/copying [1-9]\d*\//.test(output)) {
          child.kill('SIGKILL');
          resolve();
        }
      });
      child.once('exit', () => reject(new Error(`the run ended before it could be killed: ${output}`)));
    });
    await new Promise((resolve) => child.once('exit', resolve));
    const copiedBefore = (await filesUnder(path.join(target, 'data'))).length;
    expect(copiedBefore).toBeGreaterThan(0);
    await expectOnlyWholeFiles(target);

    const next = await runner().backup(id);
    expect(next.status).toBe('succeeded');
    expect(next.filesSkipped).toBeGreaterThan(0);
    const runs = await nook.orm.em
      .fork()
      .find(BackupRun, { schedule: id }, { orderBy: { startedAt: 'asc' } });
    expect(runs.map((run) => run.status)).toEqual(['interrupted', 'succeeded']);
    expect(runs[0]!.error).toMatch(/stopped \(killed or crashed\)/);
    await expectOnlyWholeFiles(target);
    expect((await verifyTarget(target, { samplePercent: 100 })).problems).toEqual([]);
  });

  it('keeps deleted files unless told otherwise, and then only after the grace period', async () => {
    const [gone] = await upload([{ name: 'to-delete.bin', data: randomBytes(5000) }]);
    const keeping = path.join(scratch, 'keeping');
    const pruning = path.join(scratch, 'pruning');
    await mkdir(keeping);
    await mkdir(pruning);
    const keep = await schedule(keeping, { include: { uploads: true, metadata: false } });
    const prune = await schedule(pruning, {
      include: { uploads: true, metadata: false },
      propagateDeletions: true,
      deletionGraceDays: 1,
    });
    await runner().backup(keep.id);
    await runner().backup(prune.id);
    await client.mutate('assets.delete', { ids: [gone!.id] });
    await client.mutate('trash.empty');
    const relOf = async (dir: string) =>
      (await filesUnder(dir)).filter((rel) => rel.endsWith('to-delete.bin'));
    expect(await relOf(keeping)).toHaveLength(1);

    const first = await runner().backup(prune.id);
    expect(first.filesDeleted).toBe(0);
    expect(await relOf(pruning)).toHaveLength(1);
    // The grace period passes.
    const index = await readIndex(pruning);
    const [rel] = [...index].find(([name]) => name.endsWith('to-delete.bin'))!;
    expect(index.get(rel)!.goneSince).toBeTruthy();
    await service().update(prune.id, { deletionGraceDays: 0 });
    const second = await runner().backup(prune.id);
    expect(second.filesDeleted).toBe(1);
    expect(await relOf(pruning)).toEqual([]);

    await runner().backup(keep.id);
    expect(await relOf(keeping)).toHaveLength(1);
  });

  it('refuses a target emptied since its last backup (an unplugged disk leaves its mount point), unless told to start over', async () => {
    const target = path.join(scratch, 'mountpoint');
    await mkdir(target);
    const { id } = await schedule(target);
    expect((await runner().backup(id)).status).toBe('succeeded');
    // The disk is unplugged: what remains is the empty folder it was mounted on.
    await rm(target, { recursive: true });
    await mkdir(target);
    const refused = await runner().backup(id);
    expect(refused.status).toBe('failed');
    expect(refused.error).toMatch(/no longer holds this schedule's backup.*unplugged.*--start-over/);
    expect(await readdir(target)).toEqual([]);

    const fresh = await runner().backup(id, { startOver: true });
    expect(fresh).toMatchObject({ status: 'succeeded', filesSkipped: 0 });
    expect(fresh.filesCopied).toBeGreaterThan(0);
    expect((await runner().backup(id)).status).toBe('succeeded');
  });

  it('takes over a lock whose holder is gone, and refuses one held by a live run', async () => {
    const target = path.join(scratch, 'locks');
    await mkdir(target);
    const lock = path.join(target, targetLayout.lock);
    const writeLock = (host: string, pid: number) =>
      writeFile(
        lock,
        JSON.stringify({ host, pid, runId: 'earlier-run', startedAt: new Date().toISOString() }),
      );

    // A container restarted by its engine gets the same pid back: that pid is ours, the run is not.
    await writeLock(hostname(), process.pid);
    await (
      await lockTarget(target, 'run-a')
    )();

    // Another host's lock that is kept fresh is a run in progress.
    await writeLock('other-host', 1);
    await expect(lockTarget(target, 'run-b')).rejects.toThrow(/another backup run is writing/);
    // Untouched for ten minutes: its host died or its container was recreated under a new name.
    const longAgo = new Date(Date.now() - 11 * 60_000);
    await utimes(lock, longAgo, longAgo);
    trackRun('run-c');
    const release = await lockTarget(target, 'run-c');
    await expect(lockTarget(target, 'run-d')).rejects.toThrow(/another backup run is writing/);
    await release();
    untrackRun('run-c');
    expect(await readdir(target)).toEqual([]);
  });

  it('keeps the copies of files whose library is offline, even when deletions are propagated', async () => {
    const target = path.join(scratch, 'nas-down');
    await mkdir(target);
    const { id } = await schedule(target, { propagateDeletions: true, deletionGraceDays: 0 });
    const first = await runner().backup(id);
    expect(first.status).toBe('succeeded');
    const copies = await filesUnder(path.join(target, 'data'));
    const em = nook.orm.em.fork();
    const [library] = await em.find(Library, { type: 'upload' });
    await em.nativeUpdate(Library, { id: library!.id }, { offlineAt: new Date() });
    try {
      const offline = await runner().backup(id);
      expect(offline).toMatchObject({ status: 'succeeded', filesDeleted: 0, filesFailed: 0, filesCopied: 0 });
      expect(await filesUnder(path.join(target, 'data'))).toEqual(copies);
      const [latest] = (await readdir(path.join(target, 'snapshots'))).sort().reverse();
      const manifest = JSON.parse(
        await readFile(path.join(target, 'snapshots', latest!, 'manifest.json'), 'utf8'),
      ) as Manifest;
      expect(manifest.assets.every((asset) => asset.backupPath !== null)).toBe(true);
    } finally {
      await em.nativeUpdate(Library, { id: library!.id }, { offlineAt: null });
    }
  });

  it('warns when a schedule has not succeeded for more than twice its interval', async () => {
    const target = path.join(scratch, 'stale');
    await mkdir(target);
    const { id } = await schedule(target, { cron: '0 3 * * *' });
    const run = await runner().backup(id);
    expect(run.status).toBe('succeeded');
    const finished = run.finishedAt!.getTime();
    const day = 24 * 60 * 60 * 1000;
    const fresh = await service().freshness(new Date(finished + day));
    expect(fresh.warnings.filter((warning) => warning.includes('stale'))).toEqual([]);
    const stale = await service().freshness(new Date(finished + 3 * day));
    expect(stale.warnings).toContainEqual(expect.stringMatching(/backup stale.*3 days old, more than twice/));
    await service().update(id, { enabled: false });
  });

  it('verify finds bit rot and missing files', async () => {
    const target = path.join(scratch, 'rotting');
    await mkdir(target);
    const { id } = await schedule(target);
    await runner().backup(id);
    const [victim, lost] = (await filesUnder(path.join(target, 'data'))).slice(0, 2);
    const victimPath = path.join(target, 'data', victim!);
    const bytes = await readFile(victimPath);
    bytes[100] = bytes[100]! ^ 0xff;
    await writeFile(victimPath, bytes);
    await rm(path.join(target, 'data', lost!));

    const report = await verifyTarget(target, { samplePercent: 100 });
    expect(report.problems).toEqual(
      expect.arrayContaining([
        { path: `data/${victim}`, reason: expect.stringMatching(/bit rot/) },
        { path: `data/${lost}`, reason: 'missing from the backup' },
      ]),
    );
    const sample = await verifyTarget(target, { samplePercent: 10 });
    expect(sample.checked).toBe(Math.ceil(sample.total / 10));

    const run = await runner().verify(id, 100);
    expect(run).toMatchObject({ kind: 'verify', status: 'failed', filesCorrupt: 2 });
    expect(run.error).toMatch(/2 of \d+ files checked are damaged or missing/);
  });

  it('a no-change run reads no copy: one damaged in place is skipped, verify marks it, the next run copies it again', async () => {
    const target = path.join(scratch, 'shortcut');
    await mkdir(target);
    const { id } = await schedule(target);
    const first = await runner().backup(id);
    expect(first.status).toBe('succeeded');
    const [rotten, grown] = (await filesUnder(path.join(target, 'data'))).map((rel) => `data/${rel}`);
    // Bit rot: same size, same mtime, other content. And a copy someone appended to.
    const rottenPath = path.join(target, rotten!);
    const before = await stat(rottenPath);
    const bytes = await readFile(rottenPath);
    bytes[10] = bytes[10]! ^ 0xff;
    await writeFile(rottenPath, bytes);
    await utimes(rottenPath, before.atime, before.mtime);
    await appendFile(path.join(target, grown!), 'appended');

    // The shortcut trusts the index and the folder listing: neither change is seen.
    const blind = await runner().backup(id);
    expect(blind).toMatchObject({ status: 'succeeded', filesCopied: 0, filesSkipped: first.filesCopied });

    const verify = await runner().verify(id, 100);
    expect(verify).toMatchObject({ status: 'failed', filesCorrupt: 2 });
    expect(verify.errors).toEqual(
      expect.arrayContaining([
        { path: rotten, reason: expect.stringMatching(/bit rot/) },
        { path: grown, reason: expect.stringMatching(/larger than the \d+ bytes written/) },
      ]),
    );
    const marked = await readIndex(target);
    expect(marked.get(rotten!)?.damaged).toBeTruthy();
    expect(marked.get(grown!)?.damaged).toBeTruthy();

    const repaired = await runner().backup(id);
    expect(repaired).toMatchObject({ status: 'succeeded', filesCopied: 2 });
    await expectOnlyWholeFiles(target);
    expect((await verifyTarget(target, { samplePercent: 100 })).problems).toEqual([]);
    expect((await readIndex(target)).get(rotten!)?.damaged).toBeUndefined();
  });

  it('a no-change run notices a copy gone from its folder and copies it again', async () => {
    const target = path.join(scratch, 'gone-copy');
    await mkdir(target);
    const { id } = await schedule(target);
    expect((await runner().backup(id)).status).toBe('succeeded');
    const [lost] = await filesUnder(path.join(target, 'data'));
    await rm(path.join(target, 'data', lost!));
    const next = await runner().backup(id);
    expect(next).toMatchObject({ status: 'succeeded', filesCopied: 1 });
    expect(await filesUnder(path.join(target, 'data'))).toContain(lost);
    await expectOnlyWholeFiles(target);
  });

  it('keeps what Nook recorded: an original changed behind its back is not copied over the good copy', async () => {
    const target = path.join(scratch, 'behind-its-back');
    await mkdir(target);
    const { id } = await schedule(target);
    expect((await runner().backup(id)).status).toBe('succeeded');
    const asset = (await nook.orm.em.fork().find(Asset, {}, { populate: ['library'], limit: 1 }))[0]!;
    const source = path.join(nook.dataDir.resolveLibraryRoot(asset.library.getEntity().rootPath), asset.path);
    const original = await readFile(source);
    const info = await stat(source);
    const changed = Buffer.from(original);
    changed[0] = changed[0]! ^ 0xff;
    try {
      // Same size and mtime: nothing but its content tells it apart, and Nook's hash is not updated.
      await writeFile(source, changed);
      await utimes(source, info.atime, info.mtime);
      const skipped = await runner().backup(id);
      expect(skipped).toMatchObject({ status: 'succeeded', filesCopied: 0 });
      await expectOnlyWholeFiles(target);

      // A backup that has to copy it refuses the content Nook did not record.
      const fresh = path.join(scratch, 'behind-its-back-fresh');
      await mkdir(fresh);
      const other = await schedule(fresh);
      const refused = await runner().backup(other.id);
      expect(refused.status).toBe('partial');
      expect(refused.errors).toEqual([
        {
          path: `data/${asset.library.getEntity().rootPath}/${asset.path}`,
          reason: expect.stringMatching(/no longer matches the hash Nook recorded/),
        },
      ]);
      await expectOnlyWholeFiles(fresh);
    } finally {
      await writeFile(source, original);
    }
  });

  it('copies a library of many small files in batches, each made durable before its files are renamed', async () => {
    await upload(
      Array.from({ length: 150 }, (_, i) => ({ name: `small-${i}.bin`, data: randomBytes(2000 + i) })),
    );
    const target = path.join(scratch, 'batches');
    await mkdir(target);
    const { id } = await schedule(target);
    const run = await runner().backup(id);
    expect(run.status).toBe('succeeded');
    expect(run.filesCopied).toBeGreaterThanOrEqual(150);
    expect(await readdir(target)).not.toContain('.partial');
    await expectOnlyWholeFiles(target);
    const report = await verifyTarget(target, { samplePercent: 100 });
    expect(report.problems).toEqual([]);
    expect(report.checked).toBe(report.total);
  });
});
