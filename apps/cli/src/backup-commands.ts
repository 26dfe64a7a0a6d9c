// `nook backup …`: schedules, a run in this process, history, verify and restore of a target.
import type { Command } from 'commander';
import {
  BackupRunner,
  BackupService,
  NookError,
  createLogger,
  loadConfig,
  nextRuns,
  openDatabase,
  restoreBackup,
  verifyTarget,
  DataDir,
  type BackupInclude,
  type BackupRun,
  type BackupSettings,
} from '@nook/core';
import type { Runtime } from './runtime';

type WithRuntime = (work: (runtime: Runtime) => Promise<void>) => Promise<void>;

const includeParts: Record<string, keyof BackupInclude> = {
  uploads: 'uploads',
  watched: 'watchedLibraries',
  metadata: 'metadata',
  derived: 'derived',
};

interface ScheduleOptions {
  name?: string;
  cron?: string;
  tz?: string;
  target?: string;
  include?: string[];
  keep?: string;
  propagateDeletions?: boolean;
  keepDeleted?: boolean;
  graceDays?: string;
  verifyCron?: string;
  verifySample?: string;
  enable?: boolean;
  disable?: boolean;
}

function whole(value: string, flag: string, min: number, max: number): number {
  const number = Number(value);
  if (!Number.isInteger(number) || number < min || number > max)
    throw new NookError('BAD_REQUEST', `${flag} expects a whole number from ${min} to ${max}`);
  return number;
}

function toSettings(options: ScheduleOptions): Partial<BackupSettings> {
  const settings: Partial<BackupSettings> = {};
  if (options.name !== undefined) settings.name = options.name;
  if (options.cron !== undefined) settings.cron = options.cron;
  if (options.tz !== undefined) settings.timeZone = options.tz;
  if (options.target !== undefined) settings.targetDir = options.target;
  if (options.include !== undefined) {
    const include: BackupInclude = {
      uploads: false,
      watchedLibraries: false,
      metadata: false,
      derived: false,
    };
    for (const part of options.include.flatMap((value) => value.split(','))) {
      const key = includeParts[part.trim()];
      if (!key)
        throw new NookError(
          'BAD_REQUEST',
          `--include expects ${Object.keys(includeParts).join(', ')}; got ${part}`,
        );
      include[key] = true;
    }
    settings.include = include;
  }
  if (options.keep !== undefined) settings.keepSnapshots = whole(options.keep, '--keep', 1, 1000);
  if (options.propagateDeletions) settings.propagateDeletions = true;
  if (options.keepDeleted) settings.propagateDeletions = false;
  if (options.graceDays !== undefined)
    settings.deletionGraceDays = whole(options.graceDays, '--grace-days', 0, 3650);
  if (options.verifyCron !== undefined)
    settings.verifyCron = options.verifyCron === 'off' ? null : options.verifyCron;
  if (options.verifySample !== undefined)
    settings.verifySamplePercent = whole(options.verifySample, '--verify-sample', 1, 100);
  if (options.enable) settings.enabled = true;
  if (options.disable) settings.enabled = false;
  return settings;
}

function withScheduleOptions(command: Command): Command {
  return command
    .option('--name <name>', 'the name shown in the dashboard')
    .option('--cron <expression>', 'when to run: minute hour day month weekday, e.g. "30 3 * * *"')
    .option('--tz <zone>', 'the time zone the cron is read in, e.g. Europe/Berlin (default UTC)')
    .option('--target <dir>', 'the folder to back up into (a USB disk, a second NAS share)')
    .option('--include <parts...>', `what to copy: ${Object.keys(includeParts).join(', ')}`)
    .option('--keep <n>', 'metadata snapshots to keep')
    .option(
      '--propagate-deletions',
      'remove files deleted in Nook from the backup too (after the grace period)',
    )
    .option('--keep-deleted', 'keep files deleted in Nook in the backup (the default)')
    .option('--grace-days <days>', 'days a deleted file stays in the backup before it is removed')
    .option('--verify-cron <expression>', 'when to re-hash a sample of the backup ("off" for never)')
    .option('--verify-sample <percent>', 'percent of the backup a scheduled verify re-hashes')
    .option('--enable', 'run on schedule')
    .option('--disable', 'keep the schedule but do not run it');
}

const megabytes = (bytes: number) => `${(bytes / 1e6).toFixed(1)} MB`;

function describeRun(run: BackupRun): string {
  const took = run.finishedAt
    ? ((run.finishedAt.getTime() - run.startedAt.getTime()) / 1000).toFixed(1)
    : '-';
  const counts =
    run.kind === 'verify'
      ? `checked ${run.filesChecked}, damaged or missing ${run.filesCorrupt}`
      : `copied ${run.filesCopied} (${megabytes(run.bytesCopied)}), skipped ${run.filesSkipped} (${megabytes(run.bytesSkipped)}), deleted ${run.filesDeleted}, failed ${run.filesFailed}`;
  return `${run.startedAt.toISOString()}\t${run.kind}\t${run.status}\t${took} s\t${counts}${run.error ? `\t${run.error}` : ''}`;
}

export function registerBackupCommands(program: Command, withRuntime: WithRuntime): void {
  const backup = program.command('backup').description('backup schedules, runs, verify and restore');
  const service = (runtime: Runtime) =>
    new BackupService(runtime.orm.em.fork(), runtime.dataDir, runtime.queue);

  backup
    .command('list')
    .description('list schedules with their next run and last outcome')
    .action(() =>
      withRuntime(async (runtime) => {
        const backups = service(runtime);
        process.stdout.write('id\tname\tcron\tzone\ttarget\tenabled\tnext run\tlast run\n');
        for (const schedule of await backups.list()) {
          const last = await backups.lastRun(schedule.id);
          process.stdout.write(
            `${schedule.id}\t${schedule.name}\t${schedule.cron}\t${schedule.timeZone}\t${schedule.targetDir}\t${schedule.enabled}\t${schedule.nextRunAt?.toISOString() ?? '-'}\t${last ? `${last.status} ${last.startedAt.toISOString()}` : 'never'}\n`,
          );
        }
      }),
    );

  withScheduleOptions(backup.command('create'))
    .description('create a schedule (needs --name, --cron and --target)')
    .action((options: ScheduleOptions) =>
      withRuntime(async (runtime) => {
        const settings = toSettings(options);
        if (!settings.name || !settings.cron || !settings.targetDir)
          throw new NookError('BAD_REQUEST', 'backup create needs --name, --cron and --target');
        const { schedule, warnings } = await service(runtime).create({
          ...settings,
          name: settings.name,
          cron: settings.cron,
          targetDir: settings.targetDir,
        });
        for (const warning of warnings) process.stderr.write(`warning: ${warning}\n`);
        process.stdout.write(`created ${schedule.id}\t${schedule.name}\n`);
        for (const run of nextRuns(schedule.cron, schedule.timeZone, 5))
          process.stdout.write(`next: ${run.toISOString()}\n`);
      }),
    );

  withScheduleOptions(backup.command('update <id>'))
    .description("change a schedule's settings")
    .action((id: string, options: ScheduleOptions) =>
      withRuntime(async (runtime) => {
        const { schedule, warnings } = await service(runtime).update(id, toSettings(options));
        for (const warning of warnings) process.stderr.write(`warning: ${warning}\n`);
        process.stdout.write(`updated ${schedule.id}\t${schedule.name}\n`);
      }),
    );

  backup
    .command('delete <id>')
    .description('forget a schedule and its history (the backup files stay in the target)')
    .action((id: string) =>
      withRuntime(async (runtime) => {
        await service(runtime).delete(id);
        process.stdout.write(`deleted ${id}\n`);
      }),
    );

  backup
    .command('next <cron>')
    .description('show the next five times a cron expression fires')
    .option('--tz <zone>', 'the time zone it is read in', 'UTC')
    .action((cron: string, options: { tz: string }) => {
      for (const run of nextRuns(cron, options.tz, 5)) process.stdout.write(`${run.toISOString()}\n`);
    });

  backup
    .command('run <id>')
    .description('run a backup of a schedule now, in this process, with progress on stderr')
    .option('--limit <MB/s>', 'read originals no faster than this (leaves the disk to the server)')
    .option('--start-over', 'write a new backup into a target that was emptied on purpose')
    .action(async (id: string, options: { limit?: string; startOver?: boolean }) => {
      const config = loadConfig();
      const orm = await openDatabase(config.dataDir);
      try {
        const runner = new BackupRunner(orm.em.fork(), new DataDir(config.dataDir), createLogger('silent'));
        let lastLine = 0;
        const run = await runner.backup(id, {
          ...(options.limit && { maxBytesPerSecond: whole(options.limit, '--limit', 1, 100_000) * 1e6 }),
          ...(options.startOver && { startOver: true }),
          onProgress: (progress) => {
            if (Date.now() - lastLine < 500) return;
            lastLine = Date.now();
            process.stderr.write(
              `${progress.phase} ${progress.filesDone}/${progress.filesTotal} files, ${megabytes(progress.bytesDone)} of ${megabytes(progress.bytesTotal)}\n`,
            );
          },
        });
        process.stdout.write(`${describeRun(run)}\n`);
        for (const error of run.errors) process.stdout.write(`  ${error.path}: ${error.reason}\n`);
        if (run.status === 'failed') process.exitCode = 1;
      } finally {
        await orm.close();
      }
    });

  backup
    .command('runs [id]')
    .description('the history of runs, newest first (one schedule, or all)')
    .option('--limit <n>', 'how many', '20')
    .action((id: string | undefined, options: { limit: string }) =>
      withRuntime(async (runtime) => {
        const runs = await service(runtime).runs({
          ...(id && { scheduleId: id }),
          limit: whole(options.limit, '--limit', 1, 500),
        });
        for (const run of runs) process.stdout.write(`${describeRun(run)}\n`);
      }),
    );

  backup
    .command('verify <target>')
    .description('re-hash a backup (a sample, or all of it) and report damaged or missing files')
    .option('--sample <percent>', 'percent of the files to check, picked at random', '100')
    .action(async (target: string, options: { sample: string }) => {
      const report = await verifyTarget(target, { samplePercent: whole(options.sample, '--sample', 1, 100) });
      for (const problem of report.problems)
        process.stdout.write(`DAMAGED\t${problem.path}\t${problem.reason}\n`);
      process.stdout.write(
        `checked ${report.checked} of ${report.total} files (${megabytes(report.bytesChecked)}): ${report.problems.length ? `${report.problems.length} damaged or missing` : 'all intact'}\n`,
      );
      if (report.problems.length) process.exitCode = 1;
    });

  backup
    .command('restore <target>')
    .description('rebuild a data dir from a backup: metadata and originals, every file hash-checked')
    .requiredOption('--to <dir>', 'the new data dir (must not hold a Nook yet)')
    .option('--snapshot <name>', 'which metadata snapshot (default: the newest)')
    .option(
      '--watched-to <dir>',
      "restore watched libraries' originals under this folder and point the libraries there",
    )
    .action(async (target: string, options: { to: string; snapshot?: string; watchedTo?: string }) => {
      let lastLine = 0;
      const report = await restoreBackup(target, options.to, {
        snapshot: options.snapshot,
        watchedTo: options.watchedTo,
        onProgress: (done, total) => {
          if (Date.now() - lastLine < 1000) return;
          lastLine = Date.now();
          process.stderr.write(`restoring ${done}/${total} originals\n`);
        },
      });
      process.stdout.write(
        `restored snapshot ${report.snapshot}: ${report.assets} assets, ${report.filesRestored} files (${megabytes(report.bytesRestored)})\n`,
      );
      if (report.notInBackup)
        process.stdout.write(`${report.notInBackup} assets have no original in this backup\n`);
      for (const failure of report.failed) process.stdout.write(`  not restored: ${failure.reason}\n`);
      if (report.failed.length) {
        process.stdout.write(`${report.failed.length} originals could not be restored (see above)\n`);
        process.exitCode = 1;
      }
      for (const library of report.watchedLibraries)
        process.stdout.write(
          `watched library ${library.name}: ${library.rootPath}${library.restoredFrom ? ' (restored)' : ' (not restored: expected at its original place)'}\n`,
        );
      process.stdout.write(
        `next: NOOK_DATA_DIR=${options.to} nook start, then \`nook jobs make-missing\` to regenerate thumbnails\n`,
      );
    });
}
