// A backup run: snapshot the metadata, mirror what changed, keep the last N snapshots, record it all.
import { hostname } from 'node:os';
import { copyFile, mkdir, readFile, readdir, rename, rm, stat, writeFile } from 'node:fs/promises';
import path from 'node:path';
import type { EntityManager } from '@mikro-orm/sqlite';
import { hashFile } from '../ingest/hash';
import type { Logger } from '../logging/logger';
import type { DataDir } from '../storage/data-dir';
import {
  BackupRun,
  MAX_RUN_ERRORS,
  type BackupFileError,
  type BackupProgress,
  type BackupRunKind,
} from './backup-run.entity';
import { BackupSchedule } from './backup-schedule.entity';
import {
  CopyPool,
  FileCopyError,
  syncFiles,
  writeFileAtomic,
  type CopiedFile,
  type CopiedTemp,
} from './copy';
import { type Manifest, type ManifestAsset, type ManifestLibrary, type SnapshotListing } from './manifest';
import { markDamaged, readIndex, writeIndex, type MirrorIndex } from './mirror-index';
import {
  BACKUP_FORMAT,
  TargetError,
  describeTargetError,
  isTargetWideError,
  lockTarget,
  runStillGoing,
  trackRun,
  untrackRun,
  targetLayout,
} from './target';
import { verifyTarget } from './verify';

/** Files handed to a copy worker at once: few enough that progress and an abort are never far behind. */
const CHUNK_FILES = 32;
const CHUNK_BYTES = 32 * 1024 * 1024;
/** Copies made durable with one sync and then renamed, whichever limit comes first. */
const BATCH_FILES = 2000;
const BATCH_BYTES = 256 * 1024 * 1024;
/** Also bounds what a killed run loses, and how long progress stands still. */
const BATCH_MS = 1000;
/** How often a running run writes its progress to the database. */
const PROGRESS_INTERVAL_MS = 1000;

export interface RunOptions {
  trigger?: 'manual' | 'scheduled';
  signal?: AbortSignal;
  /** Called whenever progress moves (each file started); the database sees it once a second. */
  onProgress?: (progress: BackupProgress) => void;
  /** Caps how fast originals are read, in bytes per second. */
  maxBytesPerSecond?: number;
  /**
   * Writes a new backup into a target that earlier runs filled but that no longer holds one (it
   * was emptied on purpose). Without it such a run stops: an empty mount point looks the same.
   */
  startOver?: boolean;
}

interface PlannedFile {
  /** Relative to the target. */
  rel: string;
  source: string;
  size: number;
  /** Known for originals (Nook hashed them); derived files are hashed while copied. */
  sha256: string | null;
}

export const SNAPSHOT_NAME = /^\d{8}T\d{6}\.\d{3}Z$/;

/** The snapshot folder name: sortable, and readable as a time. */
export function snapshotName(date: Date): string {
  return date.toISOString().replace(/[-:]/g, '');
}

export class BackupRunner {
  constructor(
    private readonly em: EntityManager,
    private readonly dataDir: DataDir,
    private readonly logger: Logger,
  ) {}

  /** Runs one backup of the schedule and returns its finished record (never throws for a bad target). */
  async backup(scheduleId: string, options: RunOptions = {}): Promise<BackupRun> {
    const { schedule, run } = await this.begin(scheduleId, 'backup', options.trigger ?? 'manual');
    const progress = new ProgressReporter(this.em, run, options.onProgress);
    try {
      await this.mirror(schedule, run, progress, options);
      run.status = run.filesFailed > 0 ? 'partial' : 'succeeded';
      if (run.filesFailed > 0) run.error = `${run.filesFailed} file(s) could not be copied; see the errors`;
    } catch (error) {
      this.fail(run, error, schedule.targetDir);
    }
    return this.finish(run, progress);
  }

  /**
   * Re-hashes `samplePercent` of the schedule's backup and records what no longer matches; those
   * copies are marked in the index, so the next backup run copies them again.
   */
  async verify(scheduleId: string, samplePercent: number, options: RunOptions = {}): Promise<BackupRun> {
    const { schedule, run } = await this.begin(scheduleId, 'verify', options.trigger ?? 'manual');
    const progress = new ProgressReporter(this.em, run, options.onProgress);
    try {
      const release = await lockTarget(schedule.targetDir, run.id);
      try {
        const report = await verifyTarget(schedule.targetDir, {
          samplePercent,
          signal: options.signal,
          onProgress: (done, total, bytes, current) =>
            progress.update({
              phase: 'verifying',
              filesDone: done,
              filesTotal: total,
              bytesDone: bytes,
              bytesTotal: 0,
              current,
            }),
        });
        await markDamaged(
          schedule.targetDir,
          report.problems.map((problem) => problem.path),
          run.startedAt,
        );
        run.filesChecked = report.checked;
        run.filesCorrupt = report.problems.length;
        run.errors = report.problems.slice(0, MAX_RUN_ERRORS);
        run.status = report.problems.length ? 'failed' : 'succeeded';
        if (report.problems.length)
          run.error = `${report.problems.length} of ${report.checked} files checked are damaged or missing`;
      } finally {
        await release();
      }
    } catch (error) {
      this.fail(run, error, schedule.targetDir);
    }
    return this.finish(run, progress);
  }

  private async begin(scheduleId: string, kind: BackupRunKind, trigger: string) {
    const schedule = await this.em.findOneOrFail(BackupSchedule, { id: scheduleId });
    await this.markInterrupted(schedule.id);
    const run = this.em.create(BackupRun, {
      schedule,
      kind,
      trigger,
      startedAt: new Date(),
      host: hostname(),
      pid: process.pid,
      targetDir: schedule.targetDir,
      progress: {
        phase: 'preparing',
        filesDone: 0,
        filesTotal: 0,
        bytesDone: 0,
        bytesTotal: 0,
        current: null,
      },
    });
    await this.em.flush();
    trackRun(run.id);
    return { schedule, run };
  }

  /** Runs left `running` by a process of this host that is gone (killed, crashed, power cut). */
  private async markInterrupted(scheduleId: string): Promise<void> {
    const running = await this.em.find(BackupRun, {
      schedule: scheduleId,
      status: 'running',
      host: hostname(),
    });
    for (const stale of running) {
      if (runStillGoing(stale.host, stale.pid, stale.id)) continue;
      stale.status = 'interrupted';
      stale.finishedAt = new Date();
      stale.error = 'the process running it stopped (killed or crashed) before it finished';
      stale.progress = null;
    }
    await this.em.flush();
  }

  private fail(run: BackupRun, error: unknown, targetDir: string): void {
    run.status = 'failed';
    if (error instanceof TargetError) run.error = error.message;
    else if ((error as NodeJS.ErrnoException).code) run.error = describeTargetError(error, targetDir);
    else run.error = (error as Error).message;
    this.logger.warn({ err: error, runId: run.id }, `backup run failed: ${run.error}`);
  }

  private async finish(run: BackupRun, progress: ProgressReporter): Promise<BackupRun> {
    run.finishedAt = new Date();
    run.progress = null;
    try {
      await progress.stop();
      await this.em.flush();
    } finally {
      untrackRun(run.id);
    }
    return run;
  }

  private async mirror(
    schedule: BackupSchedule,
    run: BackupRun,
    progress: ProgressReporter,
    options: RunOptions,
  ): Promise<void> {
    const target = schedule.targetDir;
    try {
      if (!(await stat(target)).isDirectory()) throw new TargetError(`the target ${target} is not a folder`);
    } catch (error) {
      if (error instanceof TargetError) throw error;
      throw new TargetError(describeTargetError(error, target));
    }
    if (!options.startOver) await this.expectEarlierBackup(schedule, run);
    const release = await lockTarget(target, run.id).catch((error: unknown) => {
      if (error instanceof TargetError) throw error;
      throw new TargetError(describeTargetError(error, target));
    });
    const partial = path.join(target, targetLayout.partial);
    const touched = new Set<string>([target]);
    let index: MirrorIndex | null = null;
    let pool: CopyPool | null = null;
    try {
      pool = new CopyPool({
        tempDir: partial,
        ...(options.maxBytesPerSecond && { bytesPerSecond: options.maxBytesPerSecond }),
        ...(options.signal && { signal: options.signal }),
      });
      // Whatever a killed run left half-written is thrown away: it never had a final name.
      await rm(partial, { recursive: true, force: true });
      await mkdir(partial, { recursive: true });
      await this.writeMarker(schedule, partial);
      index = await readIndex(target);
      // The folders the index has files in are listed while the snapshot is taken.
      const present = new TargetListing(target);
      present.prefetch(index.keys());

      progress.update({
        phase: 'snapshot',
        filesDone: 0,
        filesTotal: 0,
        bytesDone: 0,
        bytesTotal: 0,
        current: null,
      });
      const name = snapshotName(run.startedAt);
      const snapshotTemp = path.join(partial, `snapshot-${name}`);
      await mkdir(snapshotTemp);
      const snapshot = pool.snapshot(this.em.config.get('dbName'), path.join(snapshotTemp, 'nook.db'));
      // Awaited once the copies are done; a failure before that point must not go unhandled.
      snapshot.done.catch(() => undefined);
      const listing = await snapshot.listing;

      const { libraries, assets, files, offline } = this.plan(schedule, listing, index);
      if (schedule.include.derived) files.push(...(await this.planDerived()));
      const wanted = new Set([...files.map((file) => file.rel), ...offline]);
      const missing = await this.copyAll(
        files,
        index,
        present,
        pool,
        run,
        progress,
        partial,
        touched,
        options,
      );

      progress.update({ ...progress.current, phase: 'deleting', current: null });
      await this.applyDeletions(schedule, index, wanted, run, touched);

      const database = await snapshot.done;
      progress.update({ ...progress.current, phase: 'finishing', current: null });
      if (schedule.include.metadata) {
        await this.keepSnapshot(
          target,
          name,
          snapshotTemp,
          database,
          { libraries, assets, missing },
          index,
          touched,
        );
        run.snapshot = name;
        await this.applyRetention(target, schedule.keepSnapshots, index);
      }
      // Every rename and new folder durable before the index lists them.
      await syncFiles(target, [], touched);
      await writeIndex(target, index);
      await syncFiles(target, [], [target]);
    } catch (error) {
      // What was copied before the failure is kept in the index, so the next run need not hash it again.
      if (index)
        await syncFiles(target, [], touched)
          .then(() => writeIndex(target, index!))
          .catch(() => undefined);
      throw error;
    } finally {
      await pool?.close();
      // A run that failed cleanly leaves nothing behind; one that was killed is cleaned by the next.
      await rm(partial, { recursive: true, force: true }).catch(() => undefined);
      await release();
    }
  }

  /**
   * Refuses to write into a target that earlier runs of this schedule filled but that holds no backup
   * now: an unplugged disk leaves an empty mount point on the system disk, and a full backup written
   * there would fill the SD card while looking like success.
   */
  private async expectEarlierBackup(schedule: BackupSchedule, run: BackupRun): Promise<void> {
    const earlier = await this.em.count(BackupRun, {
      schedule: schedule.id,
      kind: 'backup',
      status: { $in: ['succeeded', 'partial'] },
      targetDir: schedule.targetDir,
      id: { $ne: run.id },
    });
    if (earlier === 0) return;
    const marker = await stat(path.join(schedule.targetDir, targetLayout.marker)).catch(() => null);
    if (marker) return;
    throw new TargetError(
      `the target ${schedule.targetDir} no longer holds this schedule's backup, though earlier runs wrote one: ` +
        'is the disk unplugged or the share not mounted, leaving an empty folder? Nothing was written. ' +
        `If it was emptied on purpose, run \`nook backup run ${schedule.id} --start-over\`.`,
    );
  }

  /**
   * Which originals go where in the target, by what the snapshot lists. Files of a library that is
   * offline (a NAS share down) are not copied, but the copies they already have stay and are listed.
   */
  private plan(schedule: BackupSchedule, listing: SnapshotListing, index: MirrorIndex) {
    const libraries: ManifestLibrary[] = listing.libraries.map((library) => {
      const included =
        library.type === 'upload' ? schedule.include.uploads : schedule.include.watchedLibraries;
      let backupPath: string | null = null;
      if (included) {
        const root = this.dataDir.resolveLibraryRoot(library.root_path);
        const insideData = path.relative(this.dataDir.root, root);
        backupPath =
          library.type === 'upload' && !insideData.startsWith('..') && !path.isAbsolute(insideData)
            ? path.posix.join(targetLayout.data, insideData.split(path.sep).join('/'))
            : path.posix.join(targetLayout.libraries, library.id);
      }
      return {
        id: library.id,
        name: library.name,
        type: library.type,
        rootPath: library.root_path,
        backupPath,
      };
    });
    const byId = new Map(libraries.map((library) => [library.id, library]));
    const roots = new Map(
      libraries.map((library) => [library.id, this.dataDir.resolveLibraryRoot(library.rootPath)]),
    );
    const offlineLibraries = new Set(
      listing.libraries.filter((library) => library.offline_at !== null).map((library) => library.id),
    );
    const assets: ManifestAsset[] = [];
    const files: PlannedFile[] = [];
    const offline: string[] = [];
    for (const row of listing.assets) {
      if (row.purged_at !== null) continue;
      const library = byId.get(row.library_id)!;
      // Stored paths are already relative and normalised: plain joins, on every one of many rows.
      let backupPath = library.backupPath ? `${library.backupPath}/${row.path}` : null;
      const reachable = row.offline_at === null && !offlineLibraries.has(row.library_id);
      if (backupPath && !reachable) {
        if (index.get(backupPath)?.sha256 === row.sha256) offline.push(backupPath);
        else backupPath = null;
      }
      assets.push({
        id: row.id,
        libraryId: row.library_id,
        path: row.path,
        sha256: row.sha256,
        size: Number(row.size),
        backupPath,
      });
      if (backupPath && reachable)
        files.push({
          rel: backupPath,
          source: `${roots.get(row.library_id)!}/${row.path}`,
          size: Number(row.size),
          sha256: row.sha256,
        });
    }
    return { libraries, assets, files, offline };
  }

  private async planDerived(): Promise<PlannedFile[]> {
    const files: PlannedFile[] = [];
    const walk = async (dir: string): Promise<void> => {
      let entries;
      try {
        entries = await readdir(dir, { withFileTypes: true });
      } catch (error) {
        if ((error as NodeJS.ErrnoException).code === 'ENOENT') return;
        throw error;
      }
      for (const entry of entries) {
        const full = path.join(dir, entry.name);
        if (entry.isDirectory()) await walk(full);
        else if (entry.isFile()) {
          const rel = path.relative(this.dataDir.root, full).split(path.sep).join('/');
          files.push({
            rel: path.posix.join(targetLayout.data, rel),
            source: full,
            size: (await stat(full)).size,
            sha256: null,
          });
        }
      }
    };
    await walk(this.dataDir.derived);
    return files;
  }

  /**
   * Copies what is new or changed; a file's own trouble is recorded, the target's stops the run.
   * Worker threads copy each file to `.partial/` and read it back; the copies are made durable
   * together (one syncfs for a whole batch instead of an fsync each) and only then renamed.
   */
  private async copyAll(
    files: PlannedFile[],
    index: MirrorIndex,
    listing: TargetListing,
    pool: CopyPool,
    run: BackupRun,
    progress: ProgressReporter,
    partial: string,
    touched: Set<string>,
    { signal }: RunOptions,
  ): Promise<string[]> {
    const target = path.dirname(partial);
    const missing: string[] = [];
    const bytesTotal = files.reduce((sum, file) => sum + file.size, 0);
    let filesDone = 0;
    let bytesDone = 0;
    const errors: BackupFileError[] = [];
    let next = 0;
    let stopped: unknown = null;
    const report = (current: string | null) =>
      progress.update({
        phase: 'copying',
        filesDone,
        filesTotal: files.length,
        bytesDone,
        bytesTotal,
        current,
      });
    const done = (file: PlannedFile) => {
      filesDone++;
      bytesDone += file.size;
    };
    const failed = (file: PlannedFile, error: unknown) => {
      if (!(error instanceof FileCopyError)) {
        stopped ??= error;
        return;
      }
      run.filesFailed++;
      missing.push(file.rel);
      errors.push({ path: file.rel, reason: error.message });
      done(file);
    };
    type Copied = { file: PlannedFile; copied: CopiedTemp; destination: string };
    let batch: Copied[] = [];
    let batchBytes = 0;
    let batchStartedAt = 0;
    let committing: Promise<void> = Promise.resolve();
    const commitBatch = () => {
      const taken = batch;
      batch = [];
      batchBytes = 0;
      committing = committing
        .then(async () => {
          if (stopped !== null || taken.length === 0) return;
          await syncFiles(
            partial,
            taken.map((item) => item.copied.temp),
          );
          const { outcomes, touched: folders } = await pool.commit(
            taken.map(({ file, copied, destination }) => ({
              source: file.source,
              temp: copied.temp,
              destination,
              size: copied.size,
            })),
          );
          for (const folder of folders) touched.add(folder);
          outcomes.forEach((outcome, i) => {
            const { file, copied } = taken[i]!;
            if (outcome !== null) return failed(file, outcome);
            index.set(file.rel, { size: copied.size, sha256: copied.sha256 });
            run.filesCopied++;
            run.bytesCopied += copied.size;
            done(file);
          });
          report(null);
        })
        .catch((error: unknown) => {
          stopped ??= error;
        });
    };

    // Each lane hands a worker a chunk of files at a time; two lanes per worker keep it busy while
    // the main thread takes in what the other lane brought back.
    const lane = async () => {
      while (stopped === null && next < files.length) {
        const chunk: Omit<Copied, 'copied'>[] = [];
        let chunkBytes = 0;
        while (next < files.length && chunk.length < CHUNK_FILES && chunkBytes < CHUNK_BYTES) {
          const file = files[next++]!;
          if (this.unchanged(file, index, listing)) {
            run.filesSkipped++;
            run.bytesSkipped += file.size;
            done(file);
            continue;
          }
          const destination = path.join(target, ...file.rel.split('/'));
          if (await this.alreadyThere(file, destination, index, listing)) {
            run.filesSkipped++;
            run.bytesSkipped += file.size;
            done(file);
            continue;
          }
          report(file.rel);
          chunk.push({ file, destination });
          chunkBytes += file.size;
        }
        if (chunk.length === 0) continue;
        signal?.throwIfAborted();
        const outcomes = await pool.copy(
          chunk.map(({ file }) => ({
            source: file.source,
            expectedSha256: file.sha256,
            size: file.size,
          })),
        );
        outcomes.forEach((copied, i) => {
          const item = chunk[i]!;
          if (copied instanceof Error) return failed(item.file, copied);
          if (batch.length === 0) batchStartedAt = Date.now();
          batch.push({ ...item, copied });
          batchBytes += copied.size;
        });
        if (
          batch.length >= BATCH_FILES ||
          batchBytes >= BATCH_BYTES ||
          (batch.length > 0 && Date.now() - batchStartedAt >= BATCH_MS)
        )
          commitBatch();
      }
    };
    // The no-change shortcut needs the folders the index lists, read while the snapshot was taken.
    await listing.ready();
    await Promise.all(
      Array.from({ length: 2 * pool.size }, () =>
        lane().catch((error: unknown) => {
          stopped ??= error;
        }),
      ),
    );
    commitBatch();
    await committing;
    run.errors = errors.slice(0, MAX_RUN_ERRORS);
    report(null);
    if (stopped !== null) {
      if (isTargetWideError(stopped)) throw new TargetError(describeTargetError(stopped, target));
      throw stopped;
    }
    return missing;
  }

  /**
   * The no-change shortcut, decided without reading or even stat-ing a copy: the index (what an
   * earlier run wrote and read back) records the hash Nook has for the original now, and the copy's
   * name is in its folder (one listing per folder, see `TargetListing`). The original is not looked
   * at either: its hash in Nook's database is what the backup must hold. What this cannot see is a
   * copy damaged or truncated in place (bit rot, an edit in the backup folder); verify finds those and
   * marks them in the index, and the next run copies them again.
   */
  private unchanged(file: PlannedFile, index: MirrorIndex, listing: TargetListing): boolean {
    const entry = index.get(file.rel);
    if (!entry || entry.damaged || entry.size !== file.size) return false;
    if (file.sha256 !== null && entry.sha256 !== file.sha256) return false;
    if (listing.holds(file.rel) !== true) return false;
    delete entry.goneSince;
    return true;
  }

  /**
   * A file at its final name the index does not vouch for (a run killed after the rename, a changed
   * or damaged entry) is hashed once: when it is what Nook has, it need not be copied.
   */
  private async alreadyThere(
    file: PlannedFile,
    destination: string,
    index: MirrorIndex,
    listing: TargetListing,
  ): Promise<boolean> {
    if (!(await listing.has(file.rel))) return false;
    const size = await stat(destination).then(
      (info) => info.size,
      () => null,
    );
    if (size === null || size !== file.size) return false;
    const digest = await hashFile(destination);
    if (file.sha256 !== null && digest.sha256 !== file.sha256) return false;
    if (file.sha256 === null) {
      // A derived file: its name carries its source's hash, so equal size and a readable copy suffice.
      const source = await hashFile(file.source).catch(() => null);
      if (!source || source.sha256 !== digest.sha256) return false;
    }
    index.set(file.rel, { size: digest.size, sha256: digest.sha256 });
    return true;
  }

  /** Files gone from Nook stay in the backup, unless the schedule says otherwise and the grace is over. */
  private async applyDeletions(
    schedule: BackupSchedule,
    index: MirrorIndex,
    wanted: Set<string>,
    run: BackupRun,
    touched: Set<string>,
  ): Promise<void> {
    if (!schedule.propagateDeletions) return;
    const parts = [
      ...(schedule.include.uploads ? [`${targetLayout.data}/library/`] : []),
      ...(schedule.include.watchedLibraries ? [`${targetLayout.libraries}/`] : []),
      ...(schedule.include.derived ? [`${targetLayout.data}/derived/`] : []),
    ];
    const now = Date.now();
    const graceMs = schedule.deletionGraceDays * 24 * 60 * 60 * 1000;
    for (const [rel, entry] of index) {
      if (wanted.has(rel) || !parts.some((part) => rel.startsWith(part))) continue;
      entry.goneSince ??= new Date(now).toISOString();
      if (now - Date.parse(entry.goneSince) < graceMs) continue;
      const file = path.join(schedule.targetDir, ...rel.split('/'));
      await rm(file, { force: true });
      touched.add(path.dirname(file));
      index.delete(rel);
      run.filesDeleted++;
    }
  }

  /** Moves the finished snapshot (database, manifest, secret, config) to its final folder. */
  private async keepSnapshot(
    target: string,
    name: string,
    snapshotTemp: string,
    database: CopiedFile,
    contents: Pick<Manifest, 'libraries' | 'assets' | 'missing'>,
    index: MirrorIndex,
    touched: Set<string>,
  ): Promise<void> {
    const manifest: Manifest = {
      format: BACKUP_FORMAT,
      snapshot: name,
      createdAt: new Date().toISOString(),
      database: { file: 'nook.db', sha256: database.sha256, size: database.size },
      ...contents,
    };
    // The folder is still a temp one: it gets its name only once all it holds is synced below.
    await writeFile(path.join(snapshotTemp, 'manifest.json'), JSON.stringify(manifest));
    for (const extra of ['secret.key', 'config.json']) {
      await copyFile(path.join(this.dataDir.root, extra), path.join(snapshotTemp, extra)).catch(
        (error: NodeJS.ErrnoException) => {
          if (error.code !== 'ENOENT') throw error;
        },
      );
    }
    const entries = await readdir(snapshotTemp);
    await syncFiles(
      snapshotTemp,
      entries.map((entry) => path.join(snapshotTemp, entry)),
      [snapshotTemp],
    );
    for (const entry of entries) {
      const digest = entry === 'nook.db' ? database : await hashFile(path.join(snapshotTemp, entry));
      index.set(`${targetLayout.snapshots}/${name}/${entry}`, { size: digest.size, sha256: digest.sha256 });
    }
    const snapshots = path.join(target, targetLayout.snapshots);
    await mkdir(snapshots, { recursive: true });
    await rename(snapshotTemp, path.join(snapshots, name));
    touched.add(snapshots);
  }

  private async applyRetention(target: string, keep: number, index: MirrorIndex): Promise<void> {
    const snapshots = path.join(target, targetLayout.snapshots);
    const names = (await readdir(snapshots)).filter((name) => SNAPSHOT_NAME.test(name)).sort();
    for (const old of names.slice(0, Math.max(0, names.length - keep))) {
      await rm(path.join(snapshots, old), { recursive: true, force: true });
      for (const rel of index.keys())
        if (rel.startsWith(`${targetLayout.snapshots}/${old}/`)) index.delete(rel);
    }
  }

  /** Says which schedule writes here; rewritten (and synced) only when that changes. */
  private async writeMarker(schedule: BackupSchedule, partial: string): Promise<void> {
    const file = path.join(schedule.targetDir, targetLayout.marker);
    const current = await readFile(file, 'utf8')
      .then((text) => JSON.parse(text) as Record<string, unknown>)
      .catch(() => null);
    if (
      current?.format === BACKUP_FORMAT &&
      current.scheduleId === schedule.id &&
      current.scheduleName === schedule.name
    )
      return;
    const marker = {
      format: BACKUP_FORMAT,
      software: 'nook',
      scheduleId: schedule.id,
      scheduleName: schedule.name,
      updatedAt: new Date().toISOString(),
      restore: 'nook backup restore <this folder> --to <new data dir>',
    };
    await writeFileAtomic(file, JSON.stringify(marker, null, 2), partial);
  }
}

/**
 * The names in each folder of the target, read once per folder: one readdir stands for the stats of
 * all the files in it, and most files a first run copies are not there at all.
 */
class TargetListing {
  private readonly reading = new Map<string, Promise<void>>();
  private readonly folders = new Map<string, Set<string>>();

  constructor(private readonly target: string) {}

  /** Waits for every folder started so far. */
  async ready(): Promise<void> {
    await Promise.all(this.reading.values());
  }

  /** Starts reading the folders these files (relative to the target) are in. */
  prefetch(rels: Iterable<string>): void {
    for (const rel of rels) if (!rel.startsWith(`${targetLayout.snapshots}/`)) void this.read(folderOf(rel));
  }

  /** Whether the file is in its folder, once that folder has been read (undefined before). */
  holds(rel: string): boolean | undefined {
    return this.folders.get(folderOf(rel))?.has(rel.slice(rel.lastIndexOf('/') + 1));
  }

  async has(rel: string): Promise<boolean> {
    await this.read(folderOf(rel));
    return this.holds(rel) === true;
  }

  private read(folder: string): Promise<void> {
    let reading = this.reading.get(folder);
    if (!reading) {
      reading = readdir(path.join(this.target, ...folder.split('/'))).then(
        (names) => void this.folders.set(folder, new Set(names)),
        // Missing (nothing copied there yet) or unreadable: its files are copied, and a target that
        // cannot be written stops the run there.
        () => void this.folders.set(folder, new Set()),
      );
      this.reading.set(folder, reading);
    }
    return reading;
  }
}

function folderOf(rel: string): string {
  return rel.slice(0, Math.max(0, rel.lastIndexOf('/')));
}

/** Keeps the run's progress in the database at most once a second, and tells a listener at once. */
class ProgressReporter {
  current: BackupProgress;
  private lastWrite = 0;
  private writing: Promise<void> | null = null;

  constructor(
    private readonly em: EntityManager,
    private readonly run: BackupRun,
    private readonly listener?: (progress: BackupProgress) => void,
  ) {
    this.current = run.progress!;
  }

  update(progress: BackupProgress): void {
    this.current = progress;
    this.listener?.(progress);
    const now = Date.now();
    if (now - this.lastWrite < PROGRESS_INTERVAL_MS || this.writing) return;
    this.lastWrite = now;
    this.writing = this.em
      .fork()
      .nativeUpdate(
        BackupRun,
        { id: this.run.id },
        {
          progress,
          filesCopied: this.run.filesCopied,
          bytesCopied: this.run.bytesCopied,
          filesSkipped: this.run.filesSkipped,
          bytesSkipped: this.run.bytesSkipped,
        },
      )
      .then(
        () => undefined,
        () => undefined,
      )
      .finally(() => (this.writing = null));
  }

  /** Waits for a write in flight, so it cannot land after the run's final record. */
  async stop(): Promise<void> {
    this.lastWrite = Number.MAX_SAFE_INTEGER;
    await this.writing;
  }
}
