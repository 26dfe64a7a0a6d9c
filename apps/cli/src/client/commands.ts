// `nook login`, `nook upload` and `nook watch`: the client side of the same binary.
import { hostname } from 'node:os';
import path from 'node:path';
import { type Command, InvalidArgumentError, Option } from 'commander';
import { readLoginPassword, readUsername } from '../prompt';
import {
  NookClient,
  ServerUnreachableError,
  TokenRefusedError,
  UploadError,
  createTokenWithPassword,
} from './api';
import { credentialsFile, loadCredentials, normaliseServer, saveCredentials, stateDir } from './credentials';
import { Progress, formatBytes } from './progress';
import { scanPaths } from './scan';
import {
  ResumeStore,
  Uploader,
  defaultUploaderOptions,
  type FileResult,
  type UploaderOptions,
} from './uploader';
import { Watcher } from './watch';

const positive = (value: string) => {
  const number = Number(value);
  if (!Number.isInteger(number) || number < 1)
    throw new InvalidArgumentError('expected a positive whole number');
  return number;
};
const collect = (value: string, previous: string[]) => [...previous, value];
const mebibytes = (value: string) => positive(value) * 1024 * 1024;

/** Options shared by upload and watch. */
function withUploadOptions(command: Command): Command {
  return command
    .option(
      '--include <glob>',
      'only files matching (repeatable; a glob without / matches the name)',
      collect,
      [],
    )
    .option('--exclude <glob>', 'skip files and folders matching (repeatable)', collect, [])
    .option('-j, --parallel <n>', 'uploads at once', positive, defaultUploaderOptions.parallel)
    .addOption(
      new Option('--tus-threshold <MiB>', 'files at least this large are sent resumably (tus)')
        .argParser(mebibytes)
        .default(defaultUploaderOptions.tusThreshold, '16'),
    )
    .addOption(
      new Option('--chunk-size <MiB>', 'size of each resumable request')
        .argParser(mebibytes)
        .default(defaultUploaderOptions.chunkSize, '64'),
    )
    .option(
      '--retries <n>',
      'attempts after a failure, waiting 1, 2, 4 … s',
      positive,
      defaultUploaderOptions.retryDelays.length,
    );
}

interface UploadFlags {
  include: string[];
  exclude: string[];
  parallel: number;
  tusThreshold: number;
  chunkSize: number;
  retries: number;
}

function uploaderOptions(flags: UploadFlags): UploaderOptions {
  return {
    ...defaultUploaderOptions,
    parallel: flags.parallel,
    tusThreshold: flags.tusThreshold,
    chunkSize: flags.chunkSize,
    retryDelays: Array.from({ length: flags.retries }, (_, i) => Math.min(1000 * 2 ** i, 60_000)),
  };
}

/** `nook upload` and `nook watch` exit with this when the server refused the token (sysexits' EX_NOPERM). */
export const TOKEN_REFUSED_EXIT = 77;

function exitRefused(refused: TokenRefusedError): void {
  process.stderr.write(`nook: ${refused.message}\n`);
  process.exitCode = TOKEN_REFUSED_EXIT;
}

/** Why `nook login` kept nothing, in the words of what went wrong where. */
function loginFailure(server: string, error: unknown): string {
  if (error instanceof ServerUnreachableError) return `nothing answered at ${server} (${error.detail})`;
  if (error instanceof TokenRefusedError)
    return `the server refused the token (${error.status}: ${error.reason})`;
  if (error instanceof UploadError) return `${server} answered ${error.message}; is it a Nook server?`;
  return (error as Error).message;
}

export function summarise(results: FileResult[], out: NodeJS.WritableStream = process.stdout): void {
  const count = (status: FileResult['status']) => results.filter((result) => result.status === status);
  const uploaded = count('uploaded');
  const failed = count('failed');
  const bytes = uploaded.reduce((sum, result) => sum + result.file.size, 0);
  out.write(`Uploaded:   ${uploaded.length} (${formatBytes(bytes)})\n`);
  out.write(`Duplicates: ${count('duplicate').length} (already on the server)\n`);
  out.write(`Failed:     ${failed.length}\n`);
  for (const result of failed) out.write(`  ${result.file.path}: ${result.reason}\n`);
}

export function registerClientCommands(program: Command): void {
  program
    .command('login <server>')
    .description(
      "sign in to a Nook server and keep an API token for this computer (in the user's config dir, mode 0600)",
    )
    .option('-u, --username <name>', 'account name (asked for when missing)')
    .option('--token <token>', 'store an existing API token instead of signing in with a password')
    .action(async (serverArg: string, flags: { username?: string; token?: string }) => {
      const server = normaliseServer(serverArg);
      let account: { username: string };
      let token = flags.token;
      try {
        if (!token) {
          const username = flags.username ?? (await readUsername());
          const password = await readLoginPassword();
          token = await createTokenWithPassword(server, username, password, `nook CLI on ${hostname()}`);
        }
        // Kept only once the server has answered that this token is someone's and may upload.
        account = await new NookClient(server, token).whoami();
      } catch (error) {
        throw new Error(
          `${loginFailure(server, error)}; stored credentials left as they were (${credentialsFile()})`,
        );
      }
      const file = await saveCredentials({ server, token });
      process.stdout.write(`Signed in to ${server} as ${account.username}; token stored in ${file}\n`);
    });

  withUploadOptions(
    program
      .command('upload <paths...>')
      .description('upload files and folders (recursively), skipping what the server already has'),
  ).action(async (paths: string[], flags: UploadFlags) => {
    const { server, token } = await loadCredentials();
    const client = new NookClient(server, token);
    const resume = new ResumeStore(path.join(stateDir(), 'resume.json'));
    const abort = new AbortController();
    process.once('SIGINT', () => abort.abort());
    // Before hashing what may be hours of files: a refused token fails at once.
    try {
      await new Uploader(client, resume, uploaderOptions(flags), {}, abort.signal).checkToken();
    } catch (error) {
      if (error instanceof TokenRefusedError) return exitRefused(error);
      throw error;
    }
    const scan = await scanPaths(paths, flags);
    const results: FileResult[] = scan.errors.map((error) => ({
      file: { path: error.path, size: 0, mtimeMs: 0 },
      status: 'failed',
      reason: error.reason,
    }));
    const totals = { files: scan.files.length, bytes: scan.files.reduce((sum, file) => sum + file.size, 0) };
    const progress = new Progress(totals);
    const uploader = new Uploader(client, resume, uploaderOptions(flags), progress, abort.signal);
    const outcome = await uploader.run(scan.files).then(
      (done) => ({ done }),
      (error: unknown) => ({ error }),
    );
    progress.stop();
    if ('error' in outcome) {
      if (outcome.error instanceof TokenRefusedError) return exitRefused(outcome.error);
      throw outcome.error;
    }
    results.push(...outcome.done);
    summarise(results);
    if (abort.signal.aborted) process.stdout.write('Interrupted: run the same command again to continue.\n');
    process.exitCode = results.some((result) => result.status === 'failed') || abort.signal.aborted ? 1 : 0;
  });

  withUploadOptions(
    program
      .command('watch <dirs...>')
      .description('keep uploading new and changed files from these folders, once they are stable'),
  )
    .option('--stable <seconds>', 'a file counts as written once unchanged this long', positive, 3)
    .option('--rescan <minutes>', 'walk the folders again this often (catches missed events)', positive, 15)
    .option('--state <file>', 'where to remember what went up (default: in the user state dir)')
    .action(
      async (dirs: string[], flags: UploadFlags & { stable: number; rescan: number; state?: string }) => {
        const { server, token } = await loadCredentials();
        const watcher = new Watcher({
          client: new NookClient(server, token),
          dirs: dirs.map((dir) => path.resolve(dir)),
          filter: flags,
          uploader: uploaderOptions(flags),
          stableMs: flags.stable * 1000,
          rescanMs: flags.rescan * 60_000,
          stateFile: flags.state ? path.resolve(flags.state) : Watcher.defaultStateFile(server, stateDir()),
          resume: new ResumeStore(path.join(stateDir(), 'resume.json')),
        });
        let stopping = false;
        const stop = () => {
          if (stopping) process.exit(130);
          stopping = true;
          watcher.stop().then(
            () => process.exit(0),
            () => process.exit(1),
          );
        };
        process.on('SIGINT', stop);
        process.on('SIGTERM', stop);
        await watcher.start();
        const refused = await watcher.finished;
        if (refused) {
          exitRefused(refused);
          process.exit();
        }
      },
    );
}
