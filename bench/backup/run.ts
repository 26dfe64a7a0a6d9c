// Backup bench: Nook's first and no-change runs over a library of many files vs `cp -r` + `sync` and
// `rsync -a` of the same tree, taking turns over several rounds of the same run.
// Usage: npm run bench:backup [-- <files> <KiB per file>]; NOOK_BENCH_ROUNDS (default 3).
import { execFileSync, spawnSync } from 'node:child_process';
import { createHash, randomBytes } from 'node:crypto';
import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { cpus, loadavg, tmpdir } from 'node:os';
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
const rounds = Number(process.env.NOOK_BENCH_ROUNDS ?? 3);
/** No-change runs take a fraction of a second: several per round steady their median. */
const noChangeRuns = 3;
const bytesEach = kib * 1024;
const totalBytes = files * bytesEach;
const load = () =>
  loadavg()
    .map((value) => value.toFixed(2))
    .join(' ');

/** Wall time, and the CPU time of this process (all its threads) spent meanwhile. */
async function timed<T>(work: () => Promise<T> | T): Promise<{ seconds: number; cpu: number; value: T }> {
  const start = process.hrtime.bigint();
  const cpuStart = process.cpuUsage();
  const value = await work();
  const cpu = process.cpuUsage(cpuStart);
  return {
    seconds: Number(process.hrtime.bigint() - start) / 1e9,
    cpu: (cpu.user + cpu.system) / 1e6,
    value,
  };
}

/** Runs a command under GNU time: its wall time and the CPU time it (and its children) used. */
function command(file: string, args: string[]): { seconds: number; cpu: number } {
  const start = process.hrtime.bigint();
  const result = spawnSync('/usr/bin/time', ['-f', '%U %S', file, ...args], { encoding: 'utf8' });
  const seconds = Number(process.hrtime.bigint() - start) / 1e9;
  if (result.status !== 0) throw new Error(`${file} failed: ${result.stderr}`);
  const [user, system] = result.stderr.trim().split('\n').at(-1)!.split(' ').map(Number);
  return { seconds, cpu: user! + system! };
}

const median = (values: number[]) => {
  const sorted = [...values].sort((a, b) => a - b);
  const middle = Math.floor(sorted.length / 2);
  return sorted.length % 2 ? sorted[middle]! : (sorted[middle - 1]! + sorted[middle]!) / 2;
};

const loadBefore = load();
const root = await mkdtemp(path.join(tmpdir(), 'nook-bench-backup-'));
try {
  const dataDir = new DataDir(path.join(root, 'data'));
  await dataDir.ensure();
  const orm = await openDatabase(dataDir.root);
  const em = orm.em.fork();
  const user = await new UserService(em).setUp({ username: 'bench', password: 'bench password' }, CLI_ACTOR);
  const library = await em.findOneOrFail(Library, { owner: user, type: 'upload' });
  const libraryRoot = dataDir.resolveLibraryRoot(library.rootPath);

  process.stdout.write(`writing ${files} files of ${kib} KiB (${(totalBytes / 1e9).toFixed(2)} GB)…\n`);
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

  const samples = new Map<string, { seconds: number[]; cpu: number[]; load: string[] }>();
  const record = (scenario: string, { seconds, cpu }: { seconds: number; cpu: number }) => {
    const entry = samples.get(scenario) ?? { seconds: [], cpu: [], load: [] };
    entry.seconds.push(seconds);
    entry.cpu.push(cpu);
    entry.load.push(load());
    samples.set(scenario, entry);
  };
  const logger = createLogger('silent', false);

  const contenders: Record<string, (round: number) => Promise<void>> = {
    nook: async (round) => {
      const target = path.join(root, `nook-${round}`);
      await mkdir(target);
      const { schedule } = await new BackupService(orm.em.fork(), dataDir, {
        enqueue: async () => null,
      }).create({ name: `bench ${round}`, cron: '0 3 * * *', targetDir: target });
      const first = await timed(() => new BackupRunner(orm.em.fork(), dataDir, logger).backup(schedule.id));
      if (first.value.status !== 'succeeded' || first.value.filesCopied !== files)
        throw new Error(`first run: ${first.value.status} ${first.value.error}`);
      record('Nook backup, first run', first);
      for (let i = 0; i < noChangeRuns; i++) {
        const again = await timed(() => new BackupRunner(orm.em.fork(), dataDir, logger).backup(schedule.id));
        if (again.value.status !== 'succeeded' || again.value.filesSkipped !== files)
          throw new Error(`no-change run: ${again.value.status} ${again.value.error}`);
        record('Nook backup, second run (nothing changed)', again);
      }
      const verify = await timed(() =>
        new BackupRunner(orm.em.fork(), dataDir, logger).verify(schedule.id, 100),
      );
      if (verify.value.status !== 'succeeded') throw new Error(`verify: ${verify.value.error}`);
      record('Nook verify, every file re-hashed', verify);
    },
    cp: async (round) => {
      record('cp -r', command('cp', ['-r', libraryRoot, path.join(root, `cp-${round}`)]));
      record('sync after cp -r', command('sync', []));
    },
    rsync: async (round) => {
      const args = ['-a', `${libraryRoot}/`, `${path.join(root, `rsync-${round}`)}/`];
      record('rsync -a, first run', command('rsync', args));
      for (let i = 0; i < noChangeRuns; i++)
        record('rsync -a, second run (nothing changed)', command('rsync', args));
    },
  };
  const names = Object.keys(contenders);
  for (let round = 0; round < rounds; round++) {
    // Each contender goes first in turn, so a drift of the shared machine hits them alike.
    for (let i = 0; i < names.length; i++) {
      const name = names[(round + i) % names.length]!;
      // Untimed: the previous contender's writeback stays out of this one's timing. The copies are
      // only deleted at the end: on ext4 without a journal (this machine's) a file created within a
      // minute of a mass deletion pays for scanning past the deleted inodes, whoever creates it.
      execFileSync('sync');
      process.stdout.write(`round ${round + 1}/${rounds}: ${name}…\n`);
      await contenders[name]!(round);
    }
  }
  await orm.close();

  const at = (scenario: string) => median(samples.get(scenario)!.seconds);
  const rows = [...samples].map(([scenario, { seconds, cpu, load: loads }]) => ({
    scenario,
    median: Number(median(seconds).toFixed(3)),
    min: Number(Math.min(...seconds).toFixed(3)),
    max: Number(Math.max(...seconds).toFixed(3)),
    seconds: seconds.map((value) => Number(value.toFixed(3))),
    cpuMedian: Number(median(cpu).toFixed(3)),
    mbPerSecond:
      scenario.includes('first') || scenario === 'cp -r' || scenario.startsWith('Nook verify')
        ? Number((totalBytes / 1e6 / median(seconds)).toFixed(1))
        : null,
    load: loads,
  }));
  const cpAndSync = at('cp -r') + at('sync after cp -r');
  const seconds = (scenario: string) => samples.get(scenario)!.seconds;
  /** Each round's own ratio: the contenders of one round met the machine in much the same state. */
  const perRound = (nook: (round: number) => number, baseline: (round: number) => number) =>
    Array.from({ length: rounds }, (_, round) => Number((nook(round) / baseline(round)).toFixed(2)));
  const ofRound = (scenario: string, round: number, each: number) =>
    median(seconds(scenario).slice(round * each, (round + 1) * each));
  const figure = (
    name: string,
    nook: number,
    baselineName: string,
    baseline: number,
    aim: number,
    eachRound: number[],
  ) => ({
    figure: name,
    nookSeconds: Number(nook.toFixed(3)),
    baseline: baselineName,
    baselineSeconds: Number(baseline.toFixed(3)),
    ratio: Number((nook / baseline).toFixed(2)),
    aim,
    met: nook / baseline <= aim,
    ratioPerRound: eachRound,
    roundsMet: eachRound.filter((ratio) => ratio <= aim).length,
  });
  const figures = [
    figure(
      'first backup (copy, read-back check, durable)',
      at('Nook backup, first run'),
      'cp -r + sync',
      cpAndSync,
      1.5,
      perRound(
        (round) => seconds('Nook backup, first run')[round]!,
        (round) => seconds('cp -r')[round]! + seconds('sync after cp -r')[round]!,
      ),
    ),
    figure(
      'no-change backup (snapshot, manifest, index)',
      at('Nook backup, second run (nothing changed)'),
      'rsync -a, nothing changed',
      at('rsync -a, second run (nothing changed)'),
      3,
      perRound(
        (round) => ofRound('Nook backup, second run (nothing changed)', round, noChangeRuns),
        (round) => ofRound('rsync -a, second run (nothing changed)', round, noChangeRuns),
      ),
    ),
  ];

  const commit = execFileSync('git', ['rev-parse', '--short', 'HEAD'], { encoding: 'utf8' }).trim();
  const scaled =
    totalBytes < 20 * 1024 ** 3
      ? `Scaled down: ${files} files of ${kib} KiB (${(totalBytes / 1e9).toFixed(2)} GB) instead of 20 GiB, for disk space and time on a shared machine.`
      : '';
  const markdown = [
    '# Backup bench',
    '',
    `${new Date().toISOString()} · commit ${commit} · ${files} files · ${(totalBytes / 1e9).toFixed(2)} GB · ${rounds} rounds, contenders taking turns, ${noChangeRuns} no-change runs each per round · same disk (${tmpdir()}) · ${cpus().length} cores · load average before: ${loadBefore}`,
    '',
    scaled,
    '',
    'Nook copies each file to a temp name, reads the copy back and checks it against the hash it recorded, makes each batch durable (syncfs) and only then renames; it also snapshots the database and writes a manifest and an index. cp and rsync do none of that (rsync -a does not fsync).',
    '',
    '| figure | Nook s | baseline | baseline s | ratio of medians | aim | met | ratio in each round | rounds met |',
    '| --- | ---: | --- | ---: | ---: | ---: | --- | --- | ---: |',
    ...figures.map(
      (row) =>
        `| ${row.figure} | ${row.nookSeconds} | ${row.baseline} | ${row.baselineSeconds} | ${row.ratio}× | ≤ ${row.aim}× | ${row.met ? 'yes' : 'no'} | ${row.ratioPerRound.map((ratio) => `${ratio}×`).join(' · ')} | ${row.roundsMet}/${rounds} |`,
    ),
    '',
    '| scenario | median s | min–max s | MB/s | CPU s (median) | load average after each round (1/5/15 min) |',
    '| --- | ---: | ---: | ---: | ---: | --- |',
    ...rows.map(
      (row) =>
        `| ${row.scenario} | ${row.median} | ${row.min}–${row.max} | ${row.mbPerSecond ?? ''} | ${row.cpuMedian} | ${row.load.join(' · ')} |`,
    ),
    '',
    'CPU s: user + system time of the Nook process (all its threads) or of the command; the kernel threads that write back dirty pages are counted for nobody. On a busy machine a contender with more threads gets more of the CPU, so wall times favour Nook there; the CPU times do not depend on that.',
    '',
  ].join('\n');
  process.stdout.write(`${markdown}\n`);
  const results = path.join(import.meta.dirname, '..', 'results');
  await mkdir(results, { recursive: true });
  await writeFile(path.join(results, 'backup.md'), markdown);
  await writeFile(
    path.join(results, 'backup.json'),
    JSON.stringify(
      {
        date: new Date().toISOString(),
        commit,
        files,
        bytesEach,
        rounds,
        noChangeRuns,
        cores: cpus().length,
        loadBefore,
        scaled,
        figures,
        rows,
      },
      null,
      2,
    ),
  );
} finally {
  await rm(root, { recursive: true, force: true });
}
