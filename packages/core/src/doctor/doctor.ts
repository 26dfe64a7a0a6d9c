// `nook doctor`: what an installation needs from its machine, each check with the fix for a problem.
import { constants, existsSync } from 'node:fs';
import { access, readFile, stat, statfs } from 'node:fs/promises';
import path from 'node:path';
import pg from 'pg';
import type { Config } from '../config/config';
import { openDatabase } from '../db/orm';
import { isNetworkFilesystem } from '../ingest/mountinfo';
import { Library } from '../libraries/library.entity';
import { findRunningEmbeddedPostgres } from '../queue/embedded-postgres';
import { DataDir } from '../storage/data-dir';
import { ORIGINAL_MISSING } from '../assets/original-intact';
import { findGoneFolderCopies, findLostUploads, markLostUploads, type LostFiles } from './lost-uploads';

export type CheckStatus = 'ok' | 'warn' | 'fail';

export interface DoctorCheck {
  name: string;
  status: CheckStatus;
  detail: string;
  /** What to do about a warning or failure, as commands or steps a user can follow. */
  fix?: string;
  /** Particulars, one a line (the files each user should send again). */
  lines?: string[];
}

export interface DoctorOptions {
  /** Where external tools are looked up (default: PATH). */
  path?: string;
  /** Below this the disk check fails (default 1 GiB); below four times it, it warns. */
  minFreeBytes?: number;
  /** Overrides /proc/sys/fs/inotify/max_user_watches. */
  inotifyWatchLimit?: number;
  /** Marks uploads whose original is gone as failed ("original missing: re-upload it"). */
  repair?: boolean;
}

const GIB = 1024 ** 3;

/** Tools Nook runs, the Debian package that has each, and what stops working without it. */
const TOOLS = [
  { tool: 'ffmpeg', pkg: 'ffmpeg', role: 'video posters' },
  { tool: 'ffprobe', pkg: 'ffmpeg', role: 'video metadata' },
  { tool: 'heif-convert', pkg: 'libheif-examples', role: 'HEIC photos from iPhones' },
  { tool: 'exiftool', pkg: 'libimage-exiftool-perl', role: 'RAW photos' },
] as const;

/** The same share of the inotify budget that ingest allows itself (apps/ingest). */
const INOTIFY_SHARE = 0.5;

async function findExecutable(tool: string, searchPath: string): Promise<string | undefined> {
  for (const dir of searchPath.split(path.delimiter).filter(Boolean)) {
    const candidate = path.join(dir, tool);
    try {
      await access(candidate, constants.X_OK);
      if ((await stat(candidate)).isFile()) return candidate;
    } catch {
      // not in this directory
    }
  }
  return undefined;
}

function checkTools(searchPath: string): Promise<DoctorCheck[]> {
  return Promise.all(
    TOOLS.map(async ({ tool, pkg, role }): Promise<DoctorCheck> => {
      const found = await findExecutable(tool, searchPath);
      return found
        ? { name: tool, status: 'ok', detail: found }
        : {
            name: tool,
            status: 'fail',
            detail: `not found on PATH: ${role} fail`,
            fix: `sudo apt-get install ${pkg}`,
          };
    }),
  );
}

function checkNode(): DoctorCheck {
  const [major = 0, minor = 0] = process.versions.node.split('.').map(Number);
  const ok = major > 20 || (major === 20 && minor >= 19);
  return ok
    ? { name: 'Node.js', status: 'ok', detail: process.version }
    : {
        name: 'Node.js',
        status: 'fail',
        detail: `${process.version} is older than 20.19`,
        fix: 'install Node.js 20 or 22 (docs/install.md), then run deploy/install.sh again',
      };
}

const formatBytes = (bytes: number) =>
  bytes >= GIB ? `${(bytes / GIB).toFixed(1)} GiB` : `${Math.round(bytes / 1024 ** 2)} MiB`;

async function checkDataDir(dataDir: DataDir, minFreeBytes: number): Promise<DoctorCheck[]> {
  const root = dataDir.root;
  if (!existsSync(root)) {
    return [
      {
        name: 'data dir',
        status: 'fail',
        detail: `${root} does not exist`,
        fix: `create it for the user Nook runs as (sudo install -d -o nook -g nook ${root}), or set NOOK_DATA_DIR`,
      },
    ];
  }
  const checks: DoctorCheck[] = [];
  const unwritable: string[] = [];
  for (const dir of [root, dataDir.library, dataDir.derived, dataDir.tmp]) {
    if (!existsSync(dir)) continue;
    try {
      await access(dir, constants.W_OK | constants.X_OK);
    } catch {
      unwritable.push(dir);
    }
  }
  checks.push(
    unwritable.length
      ? {
          name: 'data dir',
          status: 'fail',
          detail: `not writable by this user: ${unwritable.join(', ')}`,
          fix: `sudo chown -R nook:nook ${root} (run Nook, and nook commands, as the nook user)`,
        }
      : { name: 'data dir', status: 'ok', detail: `${root} is writable` },
  );
  const fs = await statfs(root);
  const free = fs.bavail * fs.bsize;
  const total = fs.blocks * fs.bsize;
  const detail = `${formatBytes(free)} free of ${formatBytes(total)} on the disk holding ${root}`;
  const fix =
    'delete or move files, empty the trash, or move the data dir to a larger disk (docs/raspberry-pi.md)';
  checks.push(
    free < minFreeBytes
      ? { name: 'disk space', status: 'fail', detail: `${detail}: uploads and thumbnails will fail`, fix }
      : free < 4 * minFreeBytes
        ? { name: 'disk space', status: 'warn', detail: `${detail}: running low`, fix }
        : { name: 'disk space', status: 'ok', detail },
  );
  return checks;
}

async function readInotifyLimit(): Promise<number | undefined> {
  try {
    return Number((await readFile('/proc/sys/fs/inotify/max_user_watches', 'utf8')).trim());
  } catch {
    return undefined;
  }
}

async function checkInotify(libraries: Library[], override: number | undefined): Promise<DoctorCheck> {
  const limit = override ?? (await readInotifyLimit());
  if (limit === undefined)
    return { name: 'inotify', status: 'warn', detail: 'cannot read fs.inotify.max_user_watches' };
  // Folders that ingest follows by events: one watch each. Network shares are polled instead.
  let folders = 0;
  for (const library of libraries) {
    if (
      library.type !== 'folder' ||
      !library.enabled ||
      library.watchMode === 'off' ||
      library.watchMode === 'poll'
    )
      continue;
    if (library.watchMode === 'auto' && library.filesystem && isNetworkFilesystem(library.filesystem))
      continue;
    folders += library.lastScanStats?.directories ?? 0;
  }
  const budget = Math.floor(limit * INOTIFY_SHARE);
  const detail = `${folders} watched folders; fs.inotify.max_user_watches=${limit} (Nook uses up to ${budget})`;
  if (folders <= budget) return { name: 'inotify', status: 'ok', detail };
  const wanted = Math.max(524288, 2 ** Math.ceil(Math.log2((folders / INOTIFY_SHARE) * 1.25)));
  return {
    name: 'inotify',
    status: 'warn',
    detail: `${detail}: too few, so large libraries are polled and new files show up late`,
    fix: `echo fs.inotify.max_user_watches=${wanted} | sudo tee /etc/sysctl.d/60-nook.conf && sudo sysctl --system, then restart Nook`,
  };
}

async function checkLibraryRoots(dataDir: DataDir, libraries: Library[]): Promise<DoctorCheck[]> {
  const checks: DoctorCheck[] = [];
  for (const library of libraries) {
    if (library.type !== 'folder' || !library.enabled) continue;
    const root = dataDir.resolveLibraryRoot(library.rootPath);
    const name = `library "${library.name}"`;
    let problem: string | undefined;
    try {
      if (!(await stat(root)).isDirectory()) problem = `${root} is not a folder`;
      else await access(root, constants.R_OK | constants.X_OK);
    } catch (error) {
      const code = (error as NodeJS.ErrnoException).code;
      problem =
        code === 'ENOENT'
          ? `${root} does not exist (share not mounted, disk unplugged?)`
          : `${root} is not readable by this user (${code})`;
    }
    checks.push(
      problem
        ? {
            name,
            status: 'fail',
            detail: problem,
            fix:
              `mount it, then let the nook user read it: sudo setfacl -R -m u:nook:rX -m d:u:nook:rX ${root} ` +
              `(CIFS/SMB: mount with uid=nook; NFS: export it to the nook uid), and allow it in systemd: ` +
              `sudo deploy/install.sh --library ${root}`,
          }
        : { name, status: 'ok', detail: `${root} is readable` },
    );
  }
  return checks;
}

/** Per user at most this many files are listed; the rest are counted. */
const LISTED_PER_USER = 50;

function listFiles(groups: LostFiles[]): string[] {
  const lines: string[] = [];
  for (const { username, files } of groups) {
    lines.push(`${username}: ${files.length} file(s)`);
    for (const file of files.slice(0, LISTED_PER_USER))
      lines.push(`  ${file.name}  sha256 ${file.sha256}  added ${file.addedAt.toISOString().slice(0, 10)}`);
    if (files.length > LISTED_PER_USER) lines.push(`  … and ${files.length - LISTED_PER_USER} more`);
  }
  return lines;
}

/**
 * Uploads that Nook answered for but whose bytes it does not have. With `repair`, those of the
 * uploads libraries are marked failed, so the dashboard shows them until they are sent again.
 */
async function checkLostUploads(
  orm: Awaited<ReturnType<typeof openDatabase>>,
  dataDir: DataDir,
  repair: boolean,
): Promise<DoctorCheck[]> {
  const checks: DoctorCheck[] = [];
  const lost = await findLostUploads(orm.em.fork(), dataDir);
  const count = lost.reduce((total, group) => total + group.files.length, 0);
  if (count === 0) {
    checks.push({ name: 'uploads', status: 'ok', detail: 'every uploaded original is on disk' });
  } else {
    const marked = repair
      ? await markLostUploads(
          orm.em.fork(),
          lost.flatMap((group) => group.files.map((file) => file.id)),
        )
      : 0;
    checks.push({
      name: 'uploads',
      status: repair ? 'warn' : 'fail',
      detail:
        `${count} uploaded file(s) have lost their original on disk; their owners should send them again` +
        (repair ? ` (marked failed, "${ORIGINAL_MISSING}": ${marked} newly)` : ''),
      fix: repair
        ? 'send the files below again (dashboard, nook upload, or restart nook watch): each upload puts its original back'
        : `sudo nook doctor --repair marks them failed ("${ORIGINAL_MISSING}"); then send the files below again (dashboard, nook upload, or restart nook watch)`,
      lines: listFiles(lost),
    });
  }
  const gone = await findGoneFolderCopies(orm.em.fork());
  if (gone.length > 0) {
    const total = gone.reduce((sum, group) => sum + group.files.length, 0);
    checks.push({
      name: 'uploads answered by a folder copy',
      status: 'warn',
      detail:
        `${total} file(s) left watched folders and are kept nowhere else; an upload of any of them ` +
        'before this version was answered "duplicate" and not stored',
      fix: 'if a user uploaded any of the files below, they should send it again (nook upload sends what is missing)',
      lines: listFiles(gone),
    });
  }
  return checks;
}

async function checkQueueDatabase(config: Config): Promise<DoctorCheck> {
  const name = 'queue database';
  const url = config.databaseUrl ?? (await findRunningEmbeddedPostgres(config.dataDir));
  if (!url) {
    return {
      name,
      status: 'warn',
      detail: 'the embedded PostgreSQL is not running (Nook is stopped?)',
      fix: 'sudo systemctl start nook (or nook.target); its log: journalctl -u nook -n 50',
    };
  }
  const client = new pg.Client({ connectionString: url, connectionTimeoutMillis: 5000 });
  client.on('error', () => undefined);
  try {
    await client.connect();
    const { rows } = await client.query<{ version: string }>(
      "select current_setting('server_version') as version",
    );
    return {
      name,
      status: 'ok',
      detail: `PostgreSQL ${rows[0]?.version ?? '?'} (${config.databaseUrl ? 'NOOK_DATABASE_URL' : 'embedded'})`,
    };
  } catch (error) {
    return {
      name,
      status: 'fail',
      detail: `cannot connect: ${(error as Error).message}`,
      fix: config.databaseUrl
        ? 'check NOOK_DATABASE_URL (host, port, user, password) and that the server accepts this host'
        : 'restart Nook: sudo systemctl restart nook',
    };
  } finally {
    await client.end().catch(() => undefined);
  }
}

/** Runs every check; never throws for a problem it finds, only reports it. */
export async function runDoctor(config: Config, options: DoctorOptions = {}): Promise<DoctorCheck[]> {
  const dataDir = new DataDir(config.dataDir);
  const checks: DoctorCheck[] = [checkNode(), ...(await checkTools(options.path ?? process.env.PATH ?? ''))];
  checks.push(...(await checkDataDir(dataDir, options.minFreeBytes ?? GIB)));

  const dbFile = path.join(dataDir.root, 'nook.db');
  let libraries: Library[] = [];
  if (!existsSync(dbFile)) {
    checks.push({
      name: 'metadata database',
      status: 'warn',
      detail: `${dbFile} does not exist yet`,
      fix: 'start Nook once (sudo systemctl start nook), or run nook migrate',
    });
  } else {
    try {
      const orm = await openDatabase(dataDir.root, { migrate: false });
      try {
        const pending = await orm.getMigrator().getPendingMigrations();
        const [integrity] = await orm.em
          .getConnection()
          .execute<{ quick_check: string }[]>('PRAGMA quick_check');
        const result = integrity?.quick_check ?? 'no answer';
        if (result !== 'ok') {
          checks.push({
            name: 'metadata database',
            status: 'fail',
            detail: `${dbFile}: integrity check says ${result}`,
            fix: 'stop Nook and restore the last backup (docs/backups.md)',
          });
        } else if (pending.length) {
          checks.push({
            name: 'metadata database',
            status: 'warn',
            detail: `${pending.length} migration(s) pending`,
            fix: 'nook migrate (Nook also applies them when it starts)',
          });
        } else {
          checks.push({ name: 'metadata database', status: 'ok', detail: `${dbFile}: intact, up to date` });
        }
        libraries = await orm.em.fork().find(Library, {}, { orderBy: { name: 'asc' } });
        // A damaged or outdated schema is reported above; its rows are not read.
        if (result === 'ok' && !pending.length)
          checks.push(...(await checkLostUploads(orm, dataDir, options.repair ?? false)));
      } finally {
        await orm.close();
      }
    } catch (error) {
      checks.push({
        name: 'metadata database',
        status: 'fail',
        detail: `cannot open ${dbFile}: ${(error as Error).message}`,
        fix: `check its owner (sudo chown nook:nook ${dbFile}*) or restore the last backup (docs/backups.md)`,
      });
    }
  }
  checks.push(await checkQueueDatabase(config));
  checks.push(await checkInotify(libraries, options.inotifyWatchLimit));
  checks.push(...(await checkLibraryRoots(dataDir, libraries)));
  return checks;
}
