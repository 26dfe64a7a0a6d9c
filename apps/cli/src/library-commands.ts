// `nook library …`: add, change, remove, rescan and inspect watched folders from the command line.
import type { Command } from 'commander';
import {
  LibraryService,
  NookError,
  User,
  watchModes,
  type LibrarySettings,
  type WatchMode,
} from '@nook/core';
import type { Runtime } from './runtime';

type WithRuntime = (work: (runtime: Runtime) => Promise<void>) => Promise<void>;

interface SettingsOptions {
  name?: string;
  root?: string;
  watch?: string;
  pollInterval?: string;
  scanInterval?: string;
  exclude?: string[];
  includeExt?: string[];
  enable?: boolean;
  disable?: boolean;
}

function positive(value: string, flag: string): number {
  const number = Number(value);
  if (!Number.isInteger(number) || number < 1)
    throw new NookError('BAD_REQUEST', `${flag} expects a whole number ≥ 1`);
  return number;
}

function toSettings(options: SettingsOptions): Partial<LibrarySettings> {
  const settings: Partial<LibrarySettings> = {};
  if (options.name !== undefined) settings.name = options.name;
  if (options.root !== undefined) settings.rootPath = options.root;
  if (options.watch !== undefined) {
    if (!(watchModes as readonly string[]).includes(options.watch))
      throw new NookError('BAD_REQUEST', `--watch expects one of ${watchModes.join(', ')}`);
    settings.watchMode = options.watch as WatchMode;
  }
  if (options.pollInterval !== undefined)
    settings.pollIntervalSeconds = positive(options.pollInterval, '--poll-interval');
  if (options.scanInterval !== undefined)
    settings.scanIntervalHours = positive(options.scanInterval, '--scan-interval');
  if (options.exclude !== undefined) settings.exclude = options.exclude;
  if (options.includeExt !== undefined) settings.includeExtensions = options.includeExt;
  if (options.enable) settings.enabled = true;
  if (options.disable) settings.enabled = false;
  return settings;
}

function withSettingsOptions(command: Command): Command {
  return command
    .option('--name <name>', 'the name shown in the dashboard')
    .option('--watch <mode>', `how changes are followed: ${watchModes.join(' | ')}`)
    .option('--poll-interval <seconds>', 'seconds between polls on network filesystems')
    .option('--scan-interval <hours>', 'hours between full reconciles')
    .option(
      '--exclude <globs...>',
      'paths to leave out (replaces the list; a name without / matches anywhere)',
    )
    .option('--include-ext <extensions...>', 'index only files with these extensions')
    .option('--enable', 'index and watch the library')
    .option('--disable', 'stop indexing and watching the library');
}

/** The command line acts for an account: the one named, else the first administrator. */
async function actingUser(runtime: Runtime, username?: string): Promise<User> {
  const em = runtime.orm.em.fork();
  const user = username
    ? await em.findOne(User, { username: username.toLowerCase() })
    : await em.findOne(User, { role: 'admin' }, { orderBy: { createdAt: 'asc' } });
  if (!user)
    throw new NookError('NOT_FOUND', username ? `no account named ${username}` : 'create an account first');
  return user;
}

export function registerLibraryCommands(program: Command, withRuntime: WithRuntime): void {
  const library = program
    .command('library')
    .description('watched folders and NAS shares (needs `nook start`/`nook db`, or NOOK_DATABASE_URL)');
  const service = (runtime: Runtime) =>
    new LibraryService(runtime.orm.em.fork(), runtime.queue, runtime.dataDir);

  library
    .command('list')
    .description('list libraries with their root, watch mode and state')
    .action(() =>
      withRuntime(async (runtime) => {
        const libraries = service(runtime);
        const admin = await actingUser(runtime);
        process.stdout.write('id\tname\ttype\troot\twatch\tstate\tfiles\n');
        for (const entry of await libraries.list(admin, true)) {
          const counts = await libraries.counts(entry.id);
          const state = !entry.enabled ? 'disabled' : entry.offlineAt ? 'offline' : 'online';
          const watch =
            entry.type === 'folder'
              ? `${entry.watchMode}${entry.watchingWith ? `→${entry.watchingWith}` : ''}`
              : '-';
          process.stdout.write(
            `${entry.id}\t${entry.name}\t${entry.type}\t${entry.type === 'folder' ? entry.rootPath : '-'}\t${watch}\t${state}\t${counts.total}\n`,
          );
        }
      }),
    );

  withSettingsOptions(library.command('add <root>'))
    .description('index a folder in place (read-only) and keep it in sync')
    .option('--owner <username>', 'whose library it is (default: the first administrator)')
    .action((root: string, options: SettingsOptions & { owner?: string }) =>
      withRuntime(async (runtime) => {
        // The first administrator adds it (the folder must lie in NOOK_LIBRARY_ROOTS) and gives it away.
        const admin = await actingUser(runtime);
        const owner = options.owner ? await actingUser(runtime, options.owner) : admin;
        const settings = toSettings(options);
        const created = await service(runtime).create(admin, {
          ...settings,
          name: settings.name ?? (root.replace(/\/+$/, '').split('/').pop() || root),
          rootPath: root,
          ownerId: owner.id,
        });
        process.stdout.write(`added ${created.id}\t${created.name}\t${created.rootPath}\n`);
      }),
    );

  withSettingsOptions(library.command('update <id>'))
    .description("change a library's settings")
    .option('--root <path>', 'move the library to another folder')
    .action((id: string, options: SettingsOptions) =>
      withRuntime(async (runtime) => {
        const updated = await service(runtime).update(await actingUser(runtime), id, toSettings(options));
        process.stdout.write(`updated ${updated.id}\t${updated.name}\n`);
      }),
    );

  library
    .command('remove <id>')
    .description('forget a library and its files (the folder itself is never touched)')
    .action((id: string) =>
      withRuntime(async (runtime) => {
        await service(runtime).delete(await actingUser(runtime), id);
        process.stdout.write(`removed ${id}\n`);
      }),
    );

  library
    .command('rescan <id>')
    .description('queue a full reconcile of a library')
    .action((id: string) =>
      withRuntime(async (runtime) => {
        await service(runtime).rescan(await actingUser(runtime), id);
        process.stdout.write(`queued a scan of ${id}\n`);
      }),
    );

  library
    .command('status <id>')
    .description("a library's state, last scan and file counts")
    .action((id: string) =>
      withRuntime(async (runtime) => {
        const libraries = service(runtime);
        const entry = await libraries.get(await actingUser(runtime), id);
        const status = {
          name: entry.name,
          root: entry.rootPath,
          online: entry.offlineAt === null,
          filesystem: entry.filesystem,
          watchingWith: entry.watchingWith,
          lastScanFinishedAt: entry.lastScanFinishedAt,
          lastScanError: entry.lastScanError,
          lastScan: entry.lastScanStats,
          files: await libraries.counts(entry.id),
        };
        process.stdout.write(`${JSON.stringify(status, null, 2)}\n`);
      }),
    );
}
