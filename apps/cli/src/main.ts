// The `nook` command line: all-in-one start, the split-mode processes, and maintenance commands.
import { Command } from 'commander';
import {
  AssetService,
  CLI_ACTOR,
  ConfigError,
  EmbeddedPostgres,
  EmbeddedPostgresError,
  NookError,
  UserService,
  createLogger,
  findRunningEmbeddedPostgres,
  loadConfig,
  openDatabase,
  runDoctor,
  type Config,
  type Logger,
} from '@nook/core';
import { Ingest } from '@nook/ingest';
import { buildApp } from '@nook/server';
import { startWorkers } from '@nook/worker';
import { registerBackupCommands } from './backup-commands';
import { registerClientCommands } from './client/commands';
import { registerLibraryCommands } from './library-commands';
import { readPassword } from './prompt';
import { openRuntime, version, webRoot, type Runtime } from './runtime';

type Stop = () => Promise<void>;

/** Runs until SIGINT/SIGTERM, then stops cleanly; a second signal exits at once. */
function stopOnSignal(logger: Logger, stop: Stop): void {
  let stopping = false;
  const onSignal = (signal: NodeJS.Signals) => {
    if (stopping) {
      logger.warn({ signal }, 'second signal: exiting now');
      process.exit(130);
    }
    stopping = true;
    logger.info({ signal }, 'shutting down');
    stop().then(
      () => process.exit(0),
      (error: unknown) => {
        logger.error({ err: error }, 'shutdown failed');
        process.exit(1);
      },
    );
  };
  process.on('SIGINT', onSignal);
  process.on('SIGTERM', onSignal);
}

function setup(): { config: Config; logger: Logger } {
  const config = loadConfig();
  return { config, logger: createLogger(config.logLevel) };
}

async function serve(withWorkers: boolean, embedded: 'own' | 'join'): Promise<void> {
  const { config, logger } = setup();
  const runtime = await openRuntime(config, logger, embedded, withWorkers ? 'start' : 'serve');
  if (withWorkers)
    await startWorkers(runtime, {
      concurrency: config.concurrency,
      trashDays: config.trashDays,
      producersInProcess: true,
    });
  // All-in-one (`nook start`) also watches the folder libraries; `nook serve` leaves that to `nook ingest`.
  const ingest = withWorkers ? await Ingest.start(runtime, { producersInProcess: true }) : null;
  const app = await buildApp({
    ...runtime,
    maxUploadBytes: config.maxUploadBytes,
    trashDays: config.trashDays,
    uploadExpiryMs: config.uploadExpiryHours * 3600_000,
    trustProxy: config.trustProxy,
    publicHosts: config.publicHosts,
    accelRedirect: config.accelRedirect,
    webRoot,
    version,
  });
  stopOnSignal(logger, async () => {
    await ingest?.stop();
    await app.close();
    await runtime.close();
  });
  await app.listen({ host: config.host, port: config.port });
  const needsSetup = await new UserService(runtime.orm.em.fork()).needsSetup();
  logger.info(
    `Nook ${version} is listening on http://${config.host === '0.0.0.0' ? 'localhost' : config.host}:${config.port} (data: ${config.dataDir})` +
      (needsSetup ? ' — open it to create the administrator account' : ''),
  );
}

const program = new Command('nook').version(version).description('Nook: a personal cloud for your household');

program
  .command('start')
  .description('run everything in one process: embedded PostgreSQL, migrations, server, workers and ingest')
  .action(() => serve(true, 'own'));

program
  .command('serve')
  .description('run the HTTP server only (split mode: needs `nook db` or NOOK_DATABASE_URL)')
  .action(() => serve(false, 'join'));

program
  .command('worker')
  .description('run the job workers only (split mode: needs `nook db` or NOOK_DATABASE_URL)')
  .action(async () => {
    const { config, logger } = setup();
    const runtime = await openRuntime(config, logger, 'join', 'worker');
    await startWorkers(runtime, { concurrency: config.concurrency, trashDays: config.trashDays });
    stopOnSignal(logger, runtime.close);
    logger.info({ concurrency: config.concurrency }, 'workers running');
  });

program
  .command('ingest')
  .description('watch and reconcile folder libraries only (split mode: needs `nook db` or NOOK_DATABASE_URL)')
  .action(async () => {
    const { config, logger } = setup();
    const runtime = await openRuntime(config, logger, 'join', 'ingest');
    const ingest = await Ingest.start(runtime);
    stopOnSignal(logger, async () => {
      await ingest.stop();
      await runtime.close();
    });
  });

program
  .command('db')
  .description('run the embedded PostgreSQL that holds the job queue, until stopped')
  .option(
    '--wait <seconds>',
    'instead: wait until the one run for this data dir answers, then exit (0), or fail after <seconds>',
  )
  .action(async (options: { wait?: string }) => {
    const { config, logger } = setup();
    if (options.wait !== undefined) {
      const seconds = Number(options.wait);
      if (!Number.isFinite(seconds) || seconds < 0)
        throw new ConfigError('--wait: expected a number of seconds');
      const deadline = Date.now() + seconds * 1000;
      while (!(await findRunningEmbeddedPostgres(config.dataDir))) {
        if (Date.now() >= deadline) {
          throw new EmbeddedPostgresError(
            `no embedded PostgreSQL answered for ${config.dataDir} within ${seconds}s`,
          );
        }
        await new Promise((resolve) => setTimeout(resolve, 250));
      }
      return;
    }
    const postgres = await EmbeddedPostgres.start(config.dataDir, logger);
    stopOnSignal(logger, () => postgres.stop());
    logger.info(`embedded PostgreSQL listening on 127.0.0.1:${postgres.port}`);
  });

program
  .command('migrate')
  .description('apply pending metadata migrations and exit')
  .action(async () => {
    const { config, logger } = setup();
    const orm = await openDatabase(config.dataDir, { migrate: false });
    const applied = await orm.getMigrator().up();
    logger.info(
      { applied: applied.map((m) => m.name) },
      applied.length ? 'migrations applied' : 'database is up to date',
    );
    await orm.close();
  });

const jobs = program
  .command('jobs')
  .description('the media job queues (needs `nook start`/`nook db`, or NOOK_DATABASE_URL)');

/** Opens the queue beside a running Nook, runs `work`, and closes everything again. */
async function withRuntime(work: (runtime: Runtime) => Promise<void>): Promise<void> {
  const { config } = setup();
  const runtime = await openRuntime(config, createLogger('warn'), 'join');
  try {
    await work(runtime);
  } finally {
    await runtime.close();
  }
}

const assetsOf = (runtime: Runtime) =>
  new AssetService(runtime.orm.em.fork(), runtime.dataDir, runtime.queue);

jobs
  .command('status')
  .description('jobs waiting, running, and finished or failed in the last 24 hours, per queue')
  .action(() =>
    withRuntime(async (runtime) => {
      process.stdout.write('queue\tqueued\tactive\tfailed 24h\tcompleted 24h\n');
      for (const [name, stats] of Object.entries(await runtime.queue.stats())) {
        process.stdout.write(
          `${name}\t${stats.queued}\t${stats.active}\t${stats.failed}\t${stats.completed}\n`,
        );
      }
    }),
  );

jobs
  .command('failed')
  .description('files whose processing failed, with the reason')
  .action(() =>
    withRuntime(async (runtime) => {
      for (const asset of await assetsOf(runtime).listFailed(null, 1000)) {
        process.stdout.write(`${asset.id}\t${asset.name}\t${asset.error ?? ''}\n`);
      }
    }),
  );

jobs
  .command('retry-failed')
  .description('send every failed file through the pipeline again')
  .action(() =>
    withRuntime(async (runtime) => {
      process.stdout.write(`queued ${await assetsOf(runtime).retryFailed(null)}\n`);
    }),
  );

jobs
  .command('make-missing')
  .description('queue files whose thumbnails or previews are missing')
  .action(() =>
    withRuntime(async (runtime) => {
      process.stdout.write(`queued ${await assetsOf(runtime).makeMissing(null)}\n`);
    }),
  );

registerLibraryCommands(program, withRuntime);
registerBackupCommands(program, withRuntime);

const user = program.command('user').description('manage accounts');

user
  .command('create <username>')
  .description('create an account; the password is read from standard input, or asked for on a terminal')
  .option('--admin', 'make the account an administrator (the first account always is)')
  .option('--display-name <name>', 'the name shown in the dashboard')
  .action(async (username: string, options: { admin?: boolean; displayName?: string }) => {
    const { config } = setup();
    const orm = await openDatabase(config.dataDir);
    try {
      const users = new UserService(orm.em.fork());
      const first = await users.needsSetup();
      const password = await readPassword();
      const input = { username: username.toLowerCase(), displayName: options.displayName, password };
      // The first account goes through setup's one-time claim, like the dashboard's first-run page.
      const created = first
        ? await users.setUp(input, CLI_ACTOR)
        : await users.create({ ...input, role: options.admin ? 'admin' : 'member' }, CLI_ACTOR);
      process.stdout.write(`created ${created.role} ${created.username}\n`);
    } finally {
      await orm.close();
    }
  });

user
  .command('list')
  .description('list accounts')
  .action(async () => {
    const { config } = setup();
    const orm = await openDatabase(config.dataDir);
    try {
      for (const account of await new UserService(orm.em.fork()).list()) {
        process.stdout.write(`${account.username}\t${account.role}\t${account.displayName}\n`);
      }
    } finally {
      await orm.close();
    }
  });

program
  .command('doctor')
  .description(
    'check what Nook needs from this machine (tools, disk, inotify, databases, library folders) and whether every upload is still on disk; print fixes; exits 1 on a failure',
  )
  .option('--repair', 'mark uploads whose original is missing as failed, so they show and are sent again')
  .action(async (options: { repair?: boolean }) => {
    const checks = await runDoctor(loadConfig(), { repair: options.repair ?? false });
    const marks = { ok: 'ok  ', warn: 'WARN', fail: 'FAIL' } as const;
    for (const check of checks) {
      process.stdout.write(`${marks[check.status]}  ${check.name}: ${check.detail}\n`);
      if (check.fix && check.status !== 'ok') process.stdout.write(`      fix: ${check.fix}\n`);
      for (const line of check.lines ?? []) process.stdout.write(`      ${line}\n`);
    }
    const failed = checks.filter((check) => check.status === 'fail').length;
    const warned = checks.filter((check) => check.status === 'warn').length;
    process.stdout.write(
      failed || warned
        ? `\n${failed} problem(s), ${warned} warning(s)\n`
        : '\nEverything Nook needs is in place.\n',
    );
    if (failed) process.exitCode = 1;
  });

registerClientCommands(program);

program.parseAsync().catch((error: unknown) => {
  if (error instanceof ConfigError) {
    process.stderr.write(`nook: configuration error: ${error.message}\n`);
    process.exit(2);
  }
  if (error instanceof NookError) {
    process.stderr.write(`nook: ${error.message}\n`);
    process.exit(1);
  }
  const message = error instanceof Error ? error.message : String(error);
  process.stderr.write(`nook: ${message}\n`);
  process.exit(1);
});
