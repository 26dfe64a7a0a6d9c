// Backup bench: first and second run over a library of many files vs `cp -r` and `rsync -a` of the
// same tree in the same run. Usage: npm run bench:backup [-- <files> <KiB per file>]
import { execFileSync } from 'node:child_process';
import { createHash, randomBytes } from 'node:crypto';
import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { loadavg, tmpdir } from 'node:os';
import path from 'node:path';
import {
  Asset,
  BackupRunner,
  BackupService,
  DataDir,
  Library,
  UserService,
  createLogger,
  openDatabase,
  CLI_ACTOR,
} from '@nook/core';

const files = Number(process.argv[2] ?? 20_000);
const kib = Number(process.argv[3] ?? 64);
const bytesEach = kib * 1024;
const load = () =>
  loadavg()
    .map((value) => value.toFixed(2))
    .join(' ');

function timed<T>(work: () => Promise<T> | T): Promise<{ seconds: number; value: T }> {
  const start = process.hrtime.bigint();
  return Promise.resolve(work()).then((value) => ({
    seconds: Number(process.hrtime.bigint() - start) / 1e9,
    value,
  }));
}

const root = await mkdtemp(path.join(tmpdir(), 'nook-bench-backup-'));
try {
  const dataDir = new DataDir(path.join(root, 'data'));
  await dataDir.ensure();
  const orm = await openDatabase(dataDir.root);
  const em = orm.em.fork();
  const user = await new UserService(em).setUp({ username: 'bench', password: 'bench password' }, CLI_ACTOR);
  const library = await em.findOneOrFail(Library, { owner: user, type: 'upload' });
  const libraryRoot = dataDir.resolveLibraryRoot(library.rootPath);

  process.stdout.write(
    `writing ${files} files of ${kib} KiB (${((files * bytesEach) / 1e9).toFixed(2)} GB)…\n`,
  );
  for (let i = 0; i < files; i++) {
    const rel = `2024/${String(1 + (i % 12)).padStart(2, '0')}/IMG_${String(i).padStart(6, '0')}.jpg`;
    const data = randomBytes(bytesEach);
    await mkdir(path.join(libraryRoot, path.dirname(rel)), { recursive: true });
    await writeFile(path.join(libraryRoot, rel), data);
    em.create(Asset, {
      library,
      owner: user,
      path: rel,
      name: path.basename(rel),
      size: bytesEach,
      mtime: new Date(),
      sha256: createHash('sha256').update(data).digest('hex'),
      mime: 'image/jpeg',
      kind: 'image',
      takenAt: new Date(),
      status: 'ready',
    });
    if (i % 2000 === 1999) await em.flush();
  }
  await em.flush();
  execFileSync('sync');

  const target = path.join(root, 'target');
  await mkdir(target);
  const { schedule } = await new BackupService(orm.em.fork(), dataDir, { enqueue: async () => null }).create({
    name: 'bench',
    cron: '0 3 * * *',
    targetDir: target,
  });
  const runner = new BackupRunner(orm.em.fork(), dataDir, createLogger('silent', false));
  const totalBytes = files * bytesEach;
  const rows: {
    scenario: string;
    seconds: number;
    mbPerSecond: number | null;
    note: string;
    load: string;
  }[] = [];
  const add = (scenario: string, seconds: number, moved: number, note = '') =>
    rows.push({
      scenario,
      seconds: Number(seconds.toFixed(2)),
      mbPerSecond: moved ? Number((moved / 1e6 / seconds).toFixed(1)) : null,
      note,
      load: load(),
    });

  const first = await timed(() => runner.backup(schedule.id));
  if (first.value.status !== 'succeeded') throw new Error(`first run: ${first.value.error}`);
  add(
    'Nook backup, first run',
    first.seconds,
    first.value.bytesCopied,
    `${first.value.filesCopied} files copied`,
  );
  const second = await timed(() =>
    new BackupRunner(orm.em.fork(), dataDir, createLogger('silent', false)).backup(schedule.id),
  );
  add(
    'Nook backup, second run (nothing changed)',
    second.seconds,
    0,
    `${second.value.filesSkipped} files skipped`,
  );

  const cpTarget = path.join(root, 'cp');
  const cp = await timed(() => execFileSync('cp', ['-r', libraryRoot, cpTarget]));
  add('cp -r (no fsync, no verify)', cp.seconds, totalBytes);
  const cpSync = await timed(() => execFileSync('sync'));
  add('sync after cp -r', cpSync.seconds, 0);
  const rsyncTarget = path.join(root, 'rsync');
  const rsync = await timed(() => execFileSync('rsync', ['-a', `${libraryRoot}/`, `${rsyncTarget}/`]));
  add('rsync -a, first run', rsync.seconds, totalBytes);
  const rsync2 = await timed(() => execFileSync('rsync', ['-a', `${libraryRoot}/`, `${rsyncTarget}/`]));
  add('rsync -a, second run (nothing changed)', rsync2.seconds, 0);
  await orm.close();

  const scaled =
    files * bytesEach < 20 * 1024 ** 3
      ? `Scaled down: ${files} files of ${kib} KiB (${(totalBytes / 1e9).toFixed(2)} GB) instead of 20 GiB, for disk space and time on a shared machine.`
      : '';
  const markdown = [
    '# Backup bench',
    '',
    `${new Date().toISOString()} · ${files} files · ${(totalBytes / 1e9).toFixed(2)} GB · same disk (${tmpdir()}) · load average after each row shown`,
    scaled,
    'Nook writes every file to a temp name, fsyncs it, reads it back and verifies its hash before the rename; cp and rsync do neither (rsync -a does not fsync).',
    '',
    '| scenario | seconds | MB/s | note | load average (1/5/15 min) |',
    '| --- | ---: | ---: | --- | --- |',
    ...rows.map(
      (row) => `| ${row.scenario} | ${row.seconds} | ${row.mbPerSecond ?? ''} | ${row.note} | ${row.load} |`,
    ),
    '',
  ].join('\n');
  process.stdout.write(`${markdown}\n`);
  const results = path.join(import.meta.dirname, '..', 'results');
  await mkdir(results, { recursive: true });
  await writeFile(path.join(results, 'backup.md'), markdown);
  await writeFile(
    path.join(results, 'backup.json'),
    JSON.stringify({ files, bytesEach, rows, scaled }, null, 2),
  );
} finally {
  await rm(root, { recursive: true, force: true });
}
