// The crash test: a real `nook start` killed with SIGKILL — Nook and its PostgreSQL, every process of
// both, as a power cut would — at seeded-random moments during a folder import and concurrent
// multipart and tus uploads (tus-js-client), restarted each time, with the clients retrying what got
// no answer (tus resumes, multipart sends again). Then: every upload a client was told is stored is
// an asset with its bytes, every file of the folder is indexed, no partial or orphan file, no
// duplicate row, every asset ready with its thumbnails, all within bounded time.
// NOOK_CRASH_SEED replays a run's choices (printed at the start); NOOK_CRASH_ROUNDS sets how many
// kills; NOOK_CRASH_PI=1 runs Nook on one core with 1 GB (confine.ts).
import { spawn, type ChildProcess } from 'node:child_process';
import { createHash, randomInt } from 'node:crypto';
import { closeSync, openSync } from 'node:fs';
import { mkdir, readFile, readdir, rename, rm, stat, writeFile } from 'node:fs/promises';
import { createServer, type AddressInfo } from 'node:net';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { DataDir } from '@nook/core';
import Database from 'better-sqlite3';
import sharp from 'sharp';
import * as tus from 'tus-js-client';
import { afterAll, describe, expect, it } from 'vitest';
import { eventually, makeTempDir, setUpAdmin } from '../harness';
import { piConfinement, type Confinement } from './confine';

const nookBin = fileURLToPath(new URL('../../apps/cli/bin/nook.js', import.meta.url));
const sha256 = (data: Buffer) => createHash('sha256').update(data).digest('hex');
const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

const SEED = Number(process.env.NOOK_CRASH_SEED ?? randomInt(2 ** 31));
const ROUNDS = Number(process.env.NOOK_CRASH_ROUNDS ?? 6);
/** Files in the watched folder when it is added, then added per round (some while Nook is down). */
const FOLDER_INITIAL = 240;
const FOLDER_PER_ROUND = 20;
const MULTIPART_UPLOADS = 36;
const TUS_UPLOADS = 36;
/** Uploads of a round start within this window after Nook answers; the kill falls in it too. */
const WINDOW_MS = 2500;

/** mulberry32: small, seedable, good enough to pick moments and pixels. */
function random(seed: number): () => number {
  let state = seed >>> 0;
  return () => {
    state = (state + 0x6d2b79f5) >>> 0;
    let t = state;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

/** A real JPEG, distinct per call: a gradient under seeded grain (flat images would compress to nothing). */
async function jpeg(next: () => number, width: number, height: number): Promise<Buffer> {
  const pixels = Buffer.alloc(width * height * 3);
  const tint = [next() * 255, next() * 255, next() * 255];
  for (let i = 0; i < pixels.length; i++) {
    const x = Math.floor(i / 3) % width;
    pixels[i] = Math.max(0, Math.min(255, tint[i % 3]! * 0.6 + (x / width) * 80 + (next() - 0.5) * 90));
  }
  return sharp(pixels, { raw: { width, height, channels: 3 } })
    .jpeg({ quality: 85 })
    .toBuffer();
}

const freePort = () =>
  new Promise<number>((resolve) => {
    const server = createServer().listen(0, '127.0.0.1', () => {
      const { port } = server.address() as AddressInfo;
      server.close(() => resolve(port));
    });
  });

/** pid (comm) state ppid pgrp …: the fields after comm, which may hold spaces and parentheses. */
async function statFields(pid: string): Promise<string[] | null> {
  const text = await readFile(`/proc/${pid}/stat`, 'utf8').catch(() => null);
  return text === null ? null : text.slice(text.lastIndexOf(')') + 2).split(' ');
}

/** Processes of these process groups that still run (zombies are dead already). */
async function living(groups: number[]): Promise<number[]> {
  const found: number[] = [];
  for (const entry of await readdir('/proc')) {
    if (!/^\d+$/.test(entry)) continue;
    const fields = await statFields(entry);
    if (fields && fields[0] !== 'Z' && groups.includes(Number(fields[2]))) found.push(Number(entry));
  }
  return found;
}

/** Process groups of the PostgreSQL servers running on `clusterDir`. */
async function postgresGroups(clusterDir: string): Promise<number[]> {
  const groups = new Set<number>();
  for (const entry of await readdir('/proc')) {
    if (!/^\d+$/.test(entry)) continue;
    const commandLine = await readFile(`/proc/${entry}/cmdline`, 'utf8').catch(() => '');
    if (!commandLine.split('\0').includes(clusterDir)) continue;
    const fields = await statFields(entry);
    if (fields && fields[0] !== 'Z') groups.add(Number(fields[2]));
  }
  return [...groups];
}

/** `nook start` in a process group of its own, its output appended to `logFile`. */
class Nook {
  private child: ChildProcess | null = null;
  private starts = 0;

  constructor(
    readonly dataDir: string,
    readonly url: string,
    private readonly env: NodeJS.ProcessEnv,
    private readonly logFile: string,
    private readonly confinement: Confinement | null,
  ) {}

  start(): void {
    const log = openSync(this.logFile, 'a');
    const argv = [process.execPath, nookBin, 'start'];
    const [command, ...args] = this.confinement ? this.confinement.wrap(argv) : argv;
    this.child = spawn(command!, args, { env: this.env, detached: true, stdio: ['ignore', log, log] });
    closeSync(log);
    this.starts++;
  }

  async healthy(timeoutMs = 120_000): Promise<void> {
    await eventually(async () => {
      const child = this.child!;
      if (child.exitCode !== null || child.signalCode !== null)
        throw new Error(`nook start exited (${child.exitCode ?? child.signalCode}); see ${this.logFile}`);
      return (await fetch(`${this.url}/api/health`).catch(() => null))?.ok;
    }, timeoutMs);
  }

  /**
   * Power cut: SIGKILL to Nook's process group, then at once to its PostgreSQL's (its own group,
   * found by the cluster directory on its command line, whether or not it has written its pid file
   * yet; looked for after Nook is dead, so none can be started after the look); waits until every
   * process of them is gone.
   */
  async kill(): Promise<void> {
    const clusterDir = path.join(this.dataDir, 'pg');
    const groups = new Set([this.child!.pid!]);
    const signal = (group: number) => {
      try {
        process.kill(-group, 'SIGKILL');
      } catch {
        // nothing left in it
      }
    };
    signal(this.child!.pid!);
    await eventually(async () => {
      for (const group of await postgresGroups(clusterDir)) {
        groups.add(group);
        signal(group);
      }
      return (await living([...groups])).length === 0 && (await postgresGroups(clusterDir)).length === 0;
    }, 15_000);
  }

  /** A clean stop at the end. */
  async stop(): Promise<void> {
    const child = this.child;
    if (!child || child.exitCode !== null || child.signalCode !== null) return;
    const exited = new Promise((resolve) => child.once('exit', resolve));
    child.kill('SIGTERM');
    await Promise.race([exited, sleep(30_000)]);
    await this.kill();
  }

  get restarts(): number {
    return this.starts - 1;
  }
}

/** Is Nook up? Clients wait on this before each try, so a down server is not hammered. */
class Availability {
  private waiting: Promise<void> = Promise.resolve();
  private open: () => void = () => undefined;

  down(): void {
    this.waiting = new Promise((resolve) => (this.open = resolve));
  }

  up(): void {
    this.open();
  }

  ready(): Promise<void> {
    return this.waiting;
  }
}

interface Told {
  id: string;
  sha256: string;
  duplicate: boolean;
}

interface Item {
  kind: 'multipart' | 'tus';
  name: string;
  data: Buffer;
  sha256: string;
  round: number;
  told?: Told;
  /** When it was told, for the log of the slowest. */
  toldAt?: number;
  tries: number;
  tusUrl?: string;
}

/** Anything a client should never see, even across crashes: a 4xx, a 5xx, a completion without its asset. */
const findings: string[] = [];

async function sendMultipart(item: Item, base: string, token: string, server: Availability): Promise<void> {
  const boundary = `crash${item.sha256.slice(0, 16)}`;
  const body = Buffer.concat([
    Buffer.from(
      `--${boundary}\r\nContent-Disposition: form-data; name="file"; filename="${item.name}"\r\n` +
        'Content-Type: image/jpeg\r\n\r\n',
    ),
    item.data,
    Buffer.from(`\r\n--${boundary}--\r\n`),
  ]);
  for (;;) {
    await server.ready();
    item.tries++;
    let response: Response;
    try {
      response = await fetch(`${base}/api/assets`, {
        method: 'POST',
        headers: {
          authorization: `Bearer ${token}`,
          'content-type': `multipart/form-data; boundary=${boundary}`,
        },
        body,
      });
    } catch {
      // No answer: the server died under the request. Send it all again.
      await sleep(50);
      continue;
    }
    const text = await response.text().catch(() => null);
    if (text === null) continue;
    if (response.status === 201) {
      const [answer] = JSON.parse(text) as Told[];
      item.told = answer;
      item.toldAt = Date.now();
      return;
    }
    findings.push(`multipart ${item.name}: ${response.status} ${text.slice(0, 200)}`);
    if (response.status < 500) return;
    await sleep(200);
  }
}

function sendTus(item: Item, endpoint: string, token: string, server: Availability): Promise<void> {
  return new Promise((resolve) => {
    const upload = new tus.Upload(item.data, {
      endpoint,
      headers: { authorization: `Bearer ${token}` },
      metadata: { filename: item.name, filetype: 'image/jpeg' },
      chunkSize: 64 * 1024,
      retryDelays: null,
      onSuccess: ({ lastResponse }) => {
        item.tusUrl = upload.url ?? undefined;
        const id = lastResponse.getHeader('nook-asset-id');
        if (!id) findings.push(`tus ${item.name}: told complete without an asset (${upload.url})`);
        item.told = {
          id: id ?? '',
          sha256: lastResponse.getHeader('nook-asset-sha256') ?? '',
          duplicate: lastResponse.getHeader('nook-duplicate') === 'true',
        };
        item.toldAt = Date.now();
        resolve();
      },
      onError: (error) => {
        const status = (error as tus.DetailedError).originalResponse?.getStatus() ?? 0;
        // 409: the offset moved under a PATCH cut by the kill; HEAD tells the right one on resume.
        if (status !== 0 && status !== 409) {
          findings.push(`tus ${item.name}: ${status} ${error.message.slice(0, 200)}`);
          if (status < 500) {
            resolve();
            return;
          }
        }
        void server
          .ready()
          .then(() => sleep(50))
          .then(() => {
            item.tries++;
            upload.start();
          });
      },
    });
    void server.ready().then(() => {
      item.tries++;
      upload.start();
    });
  });
}

/** Every file under `dir`, relative with forward slashes. */
async function filesUnder(dir: string): Promise<string[]> {
  const entries = await readdir(dir, { recursive: true, withFileTypes: true }).catch(() => []);
  return entries
    .filter((entry) => entry.isFile())
    .map((entry) => path.relative(dir, path.join(entry.parentPath, entry.name)).split(path.sep).join('/'))
    .sort();
}

/** The paths under the data dir of the file with inode `ino`. */
async function sameFile(dataDir: string, ino: number): Promise<string[]> {
  const found: string[] = [];
  for (const relative of await filesUnder(dataDir)) {
    if (relative.startsWith('pg/')) continue;
    const info = await stat(path.join(dataDir, relative)).catch(() => null);
    if (info?.ino === ino) found.push(relative);
  }
  return found;
}

/** Nook's log lines that tell of recovery, counted by message: what the kills gave recovery to do. */
async function recoveryLog(logFile: string): Promise<Record<string, number>> {
  const counts: Record<string, number> = {};
  for (const line of (await readFile(logFile, 'utf8')).split('\n')) {
    const message = (() => {
      try {
        return (JSON.parse(line) as { msg?: string }).msg;
      } catch {
        return undefined;
      }
    })();
    if (
      message &&
      /cut by a crash|after a restart|recovered|left running|without a job|on request|stopped Nook/i.test(
        message,
      )
    )
      counts[message] = (counts[message] ?? 0) + 1;
  }
  return counts;
}

interface AssetRow {
  id: string;
  library_id: string;
  owner_id: string;
  path: string;
  sha256: string;
  size: number;
  status: string;
  error: string | null;
  deleted_at: number | null;
  library_type: 'upload' | 'folder';
  root_path: string;
}

function readAssets(dataDir: string): AssetRow[] {
  const db = new Database(path.join(dataDir, 'nook.db'), { readonly: true, fileMustExist: true });
  try {
    return db
      .prepare(
        `select a.id, a.library_id, a.owner_id, a.path, a.sha256, a.size, a.status, a.error, a.deleted_at,
                l.type as library_type, l.root_path
           from assets a join libraries l on l.id = a.library_id`,
      )
      .all() as AssetRow[];
  } finally {
    db.close();
  }
}

describe('crash safety', () => {
  const cleanup: (() => Promise<void>)[] = [];
  afterAll(async () => {
    for (const step of cleanup.reverse()) await step().catch(() => undefined);
  });

  it(
    `keeps every upload and every folder file through ${ROUNDS} SIGKILLs of nook start and its PostgreSQL`,
    { timeout: 15 * 60_000 },
    async () => {
      const next = random(SEED);
      const pick = (low: number, high: number) => low + Math.floor(next() * (high - low + 1));
      const confinement = await piConfinement();
      console.log(
        `crash test: seed ${SEED} (NOOK_CRASH_SEED=${SEED} replays it), ${ROUNDS} rounds` +
          (confinement ? `; Pi profile: ${confinement.how}` : ''),
      );
      const began = Date.now();

      const work = await makeTempDir('nook-crash-');
      const dataDir = path.join(work, 'data');
      const photos = path.join(work, 'photos');
      const incoming = path.join(work, 'incoming');
      await mkdir(dataDir, { mode: 0o755 });
      await mkdir(photos);
      await mkdir(incoming);
      const logFile = path.join(work, 'nook.log');

      // The folder: distinct small photos in nested folders, and a few identical pairs (two files, two rows).
      const folderFiles = new Map<string, string>();
      const folderBatches: { relative: string; data: Buffer }[][] = [[]];
      for (let round = 1; round <= ROUNDS; round++) folderBatches.push([]);
      for (let index = 0; index < FOLDER_INITIAL + FOLDER_PER_ROUND * ROUNDS; index++) {
        const data = await jpeg(next, pick(48, 96), pick(36, 72));
        const relative = `${2010 + (index % 7)}/${String((index % 12) + 1).padStart(2, '0')}/IMG_${String(index).padStart(4, '0')}.jpg`;
        const round =
          index < FOLDER_INITIAL ? 0 : 1 + Math.floor((index - FOLDER_INITIAL) / FOLDER_PER_ROUND);
        folderBatches[round]!.push({ relative, data });
        if (index % 40 === 0) folderBatches[round]!.push({ relative: `copies/IMG_${index}.jpg`, data });
      }
      for (const { relative, data } of folderBatches[0]!) {
        await mkdir(path.dirname(path.join(photos, relative)), { recursive: true });
        await writeFile(path.join(photos, relative), data);
      }

      // Uploads: distinct photos, some sent twice by two clients at once, some also in the folder.
      const items: Item[] = [];
      const item = (kind: Item['kind'], name: string, data: Buffer, round: number): Item => ({
        kind,
        name,
        data,
        sha256: sha256(data),
        round,
        tries: 0,
      });
      for (let index = 0; index < MULTIPART_UPLOADS + TUS_UPLOADS; index++) {
        const kind = index < MULTIPART_UPLOADS ? 'multipart' : 'tus';
        // tus files span several 64 KiB PATCHes, so kills land between and inside them.
        const data =
          kind === 'tus'
            ? await jpeg(next, pick(320, 480), pick(240, 360))
            : await jpeg(next, pick(120, 320), pick(90, 240));
        const round = 1 + (index % ROUNDS);
        items.push(item(kind, `${kind}-${index}.jpg`, data, round));
        if (index % 12 === 0) {
          const twinKind = index % 24 === 0 ? kind : kind === 'tus' ? 'multipart' : 'tus';
          items.push(item(twinKind, `${kind}-${index}-again.jpg`, data, round));
        }
      }
      for (const [index, { data }] of folderBatches[0]!.slice(0, 3).entries())
        items.push(item('multipart', `from-folder-${index}.jpg`, data, 1 + (index % ROUNDS)));

      const port = await freePort();
      const base = `http://127.0.0.1:${port}`;
      const env: NodeJS.ProcessEnv = {
        ...process.env,
        NOOK_DATA_DIR: dataDir,
        NOOK_HOST: '127.0.0.1',
        NOOK_PORT: String(port),
        NOOK_LIBRARY_ROOTS: photos,
        NOOK_LOG_LEVEL: 'info',
      };
      delete env.NOOK_DATABASE_URL;
      delete env.NOOK_QUEUE_SCHEMA;
      const nook = new Nook(dataDir, base, env, logFile, confinement);
      cleanup.push(async () => {
        await nook.stop();
        await confinement?.release();
      });
      const server = new Availability();
      let keep = false;
      const failed = async (error: unknown) => {
        const log = await readFile(logFile, 'utf8').catch(() => '');
        console.log(`nook.log (last lines):\n${log.split('\n').slice(-60).join('\n')}`);
        // Kept for a look when asked to (the data dir, Nook's whole log), else removed like on success.
        keep = Boolean(process.env.NOOK_CRASH_KEEP);
        if (keep) console.log(`kept: ${work}`);
        throw error;
      };

      try {
        nook.start();
        await nook.healthy();
        const admin = await setUpAdmin(base);
        const { token } = await admin.mutate<{ token: string }>('auth.createToken', {
          name: 'crash test',
          scopes: ['read', 'upload'],
        });
        const library = await admin.mutate<{ id: string }>('libraries.create', {
          name: 'Photos',
          rootPath: photos,
        });

        const sending: Promise<void>[] = [];
        const kills: string[] = [];
        let lastUp = Date.now();
        for (let round = 1; round <= ROUNDS; round++) {
          // This round's uploads and new folder files start at random moments of the window.
          for (const upload of items.filter((candidate) => candidate.round === round)) {
            const delay = pick(0, WINDOW_MS);
            sending.push(
              sleep(delay).then(() =>
                upload.kind === 'multipart'
                  ? sendMultipart(upload, base, token, server)
                  : sendTus(upload, `${base}/api/uploads`, token, server),
              ),
            );
          }
          for (const { relative, data } of folderBatches[round]!) {
            const delay = pick(0, WINDOW_MS * 2);
            sending.push(
              sleep(delay).then(async () => {
                // Written aside and moved in whole, as a copy from a camera card would settle.
                const aside = path.join(incoming, relative.replace(/\//g, '_'));
                await writeFile(aside, data);
                await mkdir(path.dirname(path.join(photos, relative)), { recursive: true });
                await rename(aside, path.join(photos, relative));
              }),
            );
          }
          const delay = pick(200, WINDOW_MS);
          await sleep(delay);
          server.down();
          await nook.kill();
          const told = items.filter((candidate) => candidate.told).length;
          let kill = `${delay} ms after it answered`;
          nook.start();
          // Now and then once more while it starts: recovery itself cut short (migrations, the
          // requeue, the tus replay, undoing placements).
          if (next() < 0.25) {
            const early = pick(300, 2500);
            await sleep(early);
            await nook.kill();
            kill += `, then ${early} ms into its restart`;
            nook.start();
          }
          kills.push(kill);
          console.log(`round ${round}: killed ${kill}; ${told}/${items.length} uploads told stored`);
          await nook.healthy();
          lastUp = Date.now();
          server.up();
        }

        // No more kills: every client finishes, then the pipeline drains.
        await Promise.race([
          Promise.all(sending),
          sleep(180_000).then(() => {
            throw new Error(
              `clients still waiting: ${items
                .filter((candidate) => !candidate.told)
                .map((candidate) => candidate.name)
                .join(', ')}`,
            );
          }),
        ]);
        const clientsDone = Date.now();
        const slowest = items
          .filter((upload) => upload.toldAt)
          .sort((a, b) => b.toldAt! - a.toldAt!)
          .slice(0, 3)
          .map(
            (upload) =>
              `${upload.name} at ${Math.round((upload.toldAt! - began) / 1000)} s, ${upload.tries} tries`,
          );
        console.log(
          `last uploads told: ${slowest.join('; ')}; last restart answered at ${Math.round((lastUp - began) / 1000)} s`,
        );
        const diskFolderFiles = await filesUnder(photos);
        for (const relative of diskFolderFiles)
          folderFiles.set(relative, sha256(await readFile(path.join(photos, relative))));
        const settled = await eventually(async () => {
          const rows = readAssets(dataDir).filter((row) => row.deleted_at === null);
          const folderRows = rows.filter((row) => row.library_type === 'folder');
          const done =
            folderRows.length === folderFiles.size &&
            rows.every((row) => row.status === 'ready' || row.status === 'failed');
          return done && rows;
        }, 240_000);
        const drained = Date.now();
        console.log(
          `clients done ${Math.round((clientsDone - began) / 1000)} s after the start, pipeline drained ${Math.round((drained - clientsDone) / 1000)} s later; kills: ${kills.join(', ')}; restarts: ${nook.restarts}`,
        );

        // 1. What a client was told is stored is there, with its bytes.
        const dd = new DataDir(dataDir);
        const byId = new Map(settled.map((row) => [row.id, row]));
        for (const upload of items) {
          expect(upload.told, `${upload.name} was never told stored`).toBeDefined();
          const row = byId.get(upload.told!.id);
          expect(row, `${upload.name}: asset ${upload.told!.id} missing`).toBeDefined();
          expect(row!.sha256).toBe(upload.sha256);
          expect(upload.told!.sha256).toBe(upload.sha256);
          expect(row!.library_type).toBe('upload');
          const original = path.join(dd.resolveLibraryRoot(row!.root_path), ...row!.path.split('/'));
          expect(sha256(await readFile(original)), `${upload.name}: original`).toBe(upload.sha256);
        }
        // Sent twice (by two clients, or by one that lost an answer): one asset either way.
        const uploadRows = settled.filter((row) => row.library_type === 'upload');
        const perContent = new Map<string, number>();
        for (const row of uploadRows) perContent.set(row.sha256, (perContent.get(row.sha256) ?? 0) + 1);
        expect(
          [...perContent].filter(([, count]) => count > 1),
          'duplicate upload rows',
        ).toEqual([]);
        expect(new Set(uploadRows.map((row) => row.sha256))).toEqual(
          new Set(items.map((upload) => upload.sha256)),
        );

        // 2. Every file of the folder indexed once, with its content.
        const folderRows = settled.filter((row) => row.library_type === 'folder');
        expect(folderRows.every((row) => row.library_id === library.id)).toBe(true);
        expect(folderRows.map((row) => row.path).sort()).toEqual([...folderFiles.keys()]);
        for (const row of folderRows) expect(row.sha256, row.path).toBe(folderFiles.get(row.path));

        // 3. No file in library/ without its row, none of a row missing; nothing half-done in tmp/.
        const uploadsRoot = path.join(dataDir, 'library');
        const rowFiles = uploadRows
          .map((row) =>
            path
              .relative(uploadsRoot, path.join(dd.resolveLibraryRoot(row.root_path), ...row.path.split('/')))
              .split(path.sep)
              .join('/'),
          )
          .sort();
        expect(await filesUnder(uploadsRoot)).toEqual(rowFiles);
        const tmpFiles = await filesUnder(path.join(dataDir, 'tmp'));
        expect(tmpFiles.filter((file) => file.endsWith('.placing'))).toEqual([]);
        // A multipart body cut by a kill stays in tmp/ until the upload expiry, never linked anywhere.
        for (const part of tmpFiles.filter((file) => file.endsWith('.part'))) {
          const info = await stat(path.join(dataDir, 'tmp', part));
          const twins =
            info.nlink > 1
              ? await sameFile(dataDir, info.ino).then((found) => ` (also ${found.join(', ')})`)
              : '';
          expect(`${part}: ${info.nlink} links${twins}`).toBe(`${part}: 1 links`);
        }
        // tus uploads left are those whose creation lost its answer: unfinished, and no client's.
        const clientUploads = new Set(items.map((upload) => upload.tusUrl?.split('/').pop()));
        for (const info of tmpFiles.filter((file) => file.startsWith('tus/') && file.endsWith('.json'))) {
          const upload = JSON.parse(await readFile(path.join(dataDir, 'tmp', info), 'utf8')) as {
            id: string;
            size?: number;
            offset: number;
          };
          expect(clientUploads.has(upload.id), `${info} belongs to a client`).toBe(false);
          const written = await stat(path.join(dataDir, 'tmp', 'tus', upload.id)).then(
            (file) => file.size,
            () => 0,
          );
          expect(written, `${info} is complete but was never made an asset`).toBeLessThan(
            upload.size ?? Infinity,
          );
        }

        // 4. Every asset ready, its thumbnail and preview on disk and whole.
        expect(
          settled
            .filter((row) => row.status !== 'ready')
            .map((row) => `${row.path}: ${row.status} ${row.error}`),
        ).toEqual([]);
        for (const sha of new Set(settled.map((row) => row.sha256))) {
          for (const variant of ['thumb', 'preview'] as const) {
            const file = dd.derivedPath(sha, variant);
            await expect(sharp(file).stats(), `${variant} of ${sha}`).resolves.toBeTruthy();
          }
        }
        expect(findings).toEqual([]);
        console.log(`what recovery did, from Nook's log: ${JSON.stringify(await recoveryLog(logFile))}`);
        const peak = await confinement?.peakBytes();
        if (peak)
          console.log(`Pi profile: peak memory of Nook and its PostgreSQL ${Math.round(peak / 2 ** 20)} MiB`);
        console.log(`crash test passed in ${Math.round((Date.now() - began) / 1000)} s (seed ${SEED})`);
      } catch (error) {
        await failed(error);
      } finally {
        await nook.stop();
        await confinement?.release();
        if (!keep) await rm(work, { recursive: true, force: true });
      }
    },
  );
});
