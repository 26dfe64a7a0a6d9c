// The Pi profile of the crash test (NOOK_CRASH_PI=1): Nook and its PostgreSQL on one core with 1 GB,
// as on a Raspberry Pi with 1 GB. systemd-run where systemd runs, else a memory cgroup of our own
// (v2, or v1 under the cgroup this process is in); one core by CPU affinity (taskset) either way.
import { existsSync } from 'node:fs';
import { mkdir, readFile, rmdir, writeFile } from 'node:fs/promises';
import path from 'node:path';

export const PI_MEMORY_BYTES = 1024 ** 3;

export interface Confinement {
  /** How the limits are applied, for the test's log. */
  how: string;
  /** The command line that runs `argv` inside the limits. */
  wrap(argv: string[]): string[];
  /** The most memory the confined processes used together, when the kernel tells. */
  peakBytes(): Promise<number | null>;
  release(): Promise<void>;
}

const writable = async (file: string, value: string) => {
  try {
    await writeFile(file, value);
    return true;
  } catch {
    return false;
  }
};

/** `sh` writes its own PID into the cgroup, then becomes the command: every child starts inside. */
const joinCgroup = (procsFile: string, argv: string[]) => [
  'sh',
  '-c',
  'echo $$ > "$1" && shift && exec "$@"',
  'sh',
  procsFile,
  'taskset',
  '-c',
  '0',
  ...argv,
];

async function readNumber(file: string): Promise<number | null> {
  const text = await readFile(file, 'utf8').catch(() => null);
  const value = text === null ? NaN : Number(text.trim());
  return Number.isFinite(value) ? value : null;
}

async function cgroupV2(name: string): Promise<Confinement | null> {
  const root = '/sys/fs/cgroup';
  const controllers = await readFile(path.join(root, 'cgroup.controllers'), 'utf8').catch(() => '');
  if (!controllers.split(/\s+/).includes('memory')) return null;
  const own = (await readFile('/proc/self/cgroup', 'utf8')).match(/^0::(.*)$/m)?.[1] ?? '/';
  // A leaf beside our own cgroup: v2 allows processes only in leaves.
  const dir = path.join(root, path.dirname(own), name);
  if (
    !(await mkdir(dir).then(
      () => true,
      () => false,
    ))
  )
    return null;
  if (!(await writable(path.join(dir, 'memory.max'), String(PI_MEMORY_BYTES)))) {
    await rmdir(dir).catch(() => undefined);
    return null;
  }
  await writable(path.join(dir, 'memory.swap.max'), '0');
  return {
    how: `cgroup v2 ${dir} (memory.max 1 GiB) and taskset -c 0`,
    wrap: (argv) => joinCgroup(path.join(dir, 'cgroup.procs'), argv),
    peakBytes: () => readNumber(path.join(dir, 'memory.peak')),
    release: () => rmdir(dir).catch(() => undefined),
  };
}

async function cgroupV1(name: string): Promise<Confinement | null> {
  const root = '/sys/fs/cgroup/memory';
  if (!existsSync(path.join(root, 'memory.limit_in_bytes'))) return null;
  const own = (await readFile('/proc/self/cgroup', 'utf8')).match(/^\d+:memory:(.*)$/m)?.[1] ?? '/';
  const dir = path.join(root, own, name);
  if (
    !(await mkdir(dir).then(
      () => true,
      () => false,
    ))
  )
    return null;
  if (!(await writable(path.join(dir, 'memory.limit_in_bytes'), String(PI_MEMORY_BYTES)))) {
    await rmdir(dir).catch(() => undefined);
    return null;
  }
  await writable(path.join(dir, 'memory.memsw.limit_in_bytes'), String(PI_MEMORY_BYTES));
  return {
    how: `cgroup v1 ${dir} (memory.limit_in_bytes 1 GiB) and taskset -c 0`,
    wrap: (argv) => joinCgroup(path.join(dir, 'cgroup.procs'), argv),
    peakBytes: () => readNumber(path.join(dir, 'memory.max_usage_in_bytes')),
    release: () => rmdir(dir).catch(() => undefined),
  };
}

function systemdRun(): Confinement | null {
  if (!existsSync('/run/systemd/system')) return null;
  return {
    how: 'systemd-run --scope (MemoryMax=1G, AllowedCPUs=0) and taskset -c 0',
    wrap: (argv) => [
      'systemd-run',
      '--scope',
      '--quiet',
      '-p',
      'MemoryMax=1G',
      '-p',
      'MemorySwapMax=0',
      '-p',
      'AllowedCPUs=0',
      '--',
      'taskset',
      '-c',
      '0',
      ...argv,
    ],
    peakBytes: async () => null,
    release: async () => undefined,
  };
}

/** The Pi profile's limits, or null when NOOK_CRASH_PI is not set; throws when none can be applied. */
export async function piConfinement(): Promise<Confinement | null> {
  if (!process.env.NOOK_CRASH_PI || process.env.NOOK_CRASH_PI === '0') return null;
  const name = `nook-crash-${process.pid}`;
  const found = systemdRun() ?? (await cgroupV2(name)) ?? (await cgroupV1(name));
  if (!found)
    throw new Error(
      'NOOK_CRASH_PI: no way to limit memory here: needs systemd (systemd-run) or a writable memory cgroup (run as root)',
    );
  return found;
}
