// Runs the external decoders (ffmpeg, ffprobe, heif-convert, exiftool) as killable children.
import { type ChildProcessByStdio, spawn } from 'node:child_process';
import { readFile, readdir } from 'node:fs/promises';
import path from 'node:path';
import { Readable, type Writable } from 'node:stream';
import { MediaError } from './errors';

/** Debian package that provides each tool, for the "not installed" message. */
const PACKAGE_OF: Record<string, string> = {
  ffmpeg: 'ffmpeg',
  ffprobe: 'ffmpeg',
  'heif-convert': 'libheif-examples',
  exiftool: 'libimage-exiftool-perl',
};

export interface ToolOutput {
  stdout: Buffer;
  stderr: string;
}

export class ToolFailure extends Error {
  constructor(
    readonly tool: string,
    readonly stdout: Buffer,
    readonly stderr: string,
    cause: unknown,
  ) {
    super(`${tool} failed: ${stderr.trim().split('\n').at(-1) ?? ''}`, { cause });
  }
}

/**
 * Non-zero exits become ToolFailure so each caller can word the reason for its format;
 * a missing binary or an abort become MediaErrors straight away, both transient. The promise
 * settles only once the child has exited, so an aborted job leaves no process behind.
 */
export function runTool(
  tool: string,
  args: readonly string[],
  options: { signal?: AbortSignal; maxBuffer?: number; input?: Buffer[] } = {},
): Promise<ToolOutput> {
  const { signal, maxBuffer = 64 * 1024 * 1024, input } = options;
  return new Promise((resolve, reject) => {
    if (signal?.aborted) return reject(aborted(tool, signal.reason));
    const child = spawn(tool, args, {
      stdio: [input ? 'pipe' : 'ignore', 'pipe', 'pipe'],
      windowsHide: true,
    }) as ChildProcessByStdio<Writable | null, Readable, Readable>;
    if (input && child.stdin) {
      // A decoder that gives up early closes its stdin: its exit status tells why, not EPIPE.
      child.stdin.on('error', () => undefined);
      Readable.from(input).pipe(child.stdin);
    }
    const stdout: Buffer[] = [];
    const stderr: Buffer[] = [];
    let stdoutLength = 0;
    let failure: MediaError | undefined;
    // execFile's own signal option sends SIGTERM, which ffmpeg traps and then ignores while it
    // blocks on input: SIGKILL is the only way to be sure a stuck decoder goes away.
    const kill = (reason: MediaError) => {
      failure ??= reason;
      child.kill('SIGKILL');
    };
    const onAbort = () => kill(aborted(tool, signal?.reason));
    signal?.addEventListener('abort', onAbort, { once: true });

    child.stdout.on('data', (chunk: Buffer) => {
      stdoutLength += chunk.length;
      if (stdoutLength > maxBuffer) {
        kill(new MediaError(`${tool} produced more than ${maxBuffer} bytes`, { permanent: true }));
      } else {
        stdout.push(chunk);
      }
    });
    child.stderr.on('data', (chunk: Buffer) => stderr.push(chunk));
    child.on('error', (error: NodeJS.ErrnoException) => {
      signal?.removeEventListener('abort', onAbort);
      if (error.code === 'ENOENT') {
        const pkg = PACKAGE_OF[tool] ?? tool;
        reject(
          new MediaError(`${tool} is not installed (Debian package ${pkg})`, {
            permanent: false,
            cause: error,
          }),
        );
      } else {
        reject(
          new MediaError(`${tool} could not be started (${error.message})`, {
            permanent: false,
            cause: error,
          }),
        );
      }
    });
    child.on('close', (code) => {
      signal?.removeEventListener('abort', onAbort);
      if (failure) return reject(failure);
      const output = { stdout: Buffer.concat(stdout), stderr: Buffer.concat(stderr).toString('utf8') };
      if (code === 0) resolve(output);
      else
        reject(new ToolFailure(tool, output.stdout, output.stderr, new Error(`${tool} exited with ${code}`)));
    });
  });
}

function aborted(tool: string, reason: unknown): MediaError {
  return new MediaError(`${tool} was stopped: the job was aborted`, { permanent: false, cause: reason });
}

/**
 * Kills, with SIGKILL, this process's own children that run `tool` with `argument` among their
 * arguments: for children a library spawns without handing them out (fluent-ffmpeg's ffprobe).
 * Linux only, by /proc; elsewhere the child runs to its end.
 */
export async function killChildren(tool: string, argument: string): Promise<void> {
  let entries: string[];
  try {
    entries = await readdir('/proc');
  } catch {
    return;
  }
  await Promise.all(
    entries
      .filter((entry) => /^\d+$/.test(entry))
      .map(async (entry) => {
        try {
          const stat = await readFile(`/proc/${entry}/stat`, 'utf8');
          if (Number(stat.slice(stat.lastIndexOf(')') + 2).split(' ')[1]) !== process.pid) return;
          const argv = (await readFile(`/proc/${entry}/cmdline`, 'utf8')).split('\0');
          if (path.basename(argv[0] ?? '') === tool && argv.includes(argument)) {
            process.kill(Number(entry), 'SIGKILL');
          }
        } catch {
          // The process ended while we looked.
        }
      }),
  );
}
