// `nook watch`: new and changed files go up once stable; a state file remembers what went up.
import { createHash } from 'node:crypto';
import { readFile, stat } from 'node:fs/promises';
import path from 'node:path';
import { watch, type FSWatcher } from 'chokidar';
import { TokenRefusedError, type NookClient } from './api';
import { writeFileAtomic } from './credentials';
import { fileMatcher, scanPaths, type ScanFilter, type ScannedFile } from './scan';
import { Uploader, type FileResult, type ResumeStore, type UploaderOptions } from './uploader';

export interface WatcherOptions {
  client: NookClient;
  dirs: string[];
  filter: ScanFilter;
  uploader: UploaderOptions;
  stableMs: number;
  rescanMs: number;
  stateFile: string;
  resume: ResumeStore;
  log?: (line: string) => void;
}

/** A file as it was when it went up (or was refused for good): unchanged files are never sent again. */
interface StateEntry {
  size: number;
  mtimeMs: number;
  sha256?: string;
  refused?: string;
}

interface Candidate {
  size: number;
  mtimeMs: number;
  /** When we last saw it change; it is sent once it has been still for `stableMs`. */
  changedAt: number;
}

const MAX_BACKOFF_MS = 60_000;
/** Files per round, so the state file is written often during a large first sync. */
const ROUND_SIZE = 200;

export class Watcher {
  private state: Record<string, StateEntry> = {};
  private readonly candidates = new Map<string, Candidate>();
  private readonly abort = new AbortController();
  private readonly timers: NodeJS.Timeout[] = [];
  private watcher: FSWatcher | null = null;
  private running: Promise<void> | null = null;
  private retryAt = 0;
  private backoff = 0;
  private readonly log: (line: string) => void;
  private saveTimer: NodeJS.Timeout | null = null;
  private saving = Promise.resolve();
  /** Whether this run has asked the server which remembered files it lost. */
  private verified = false;
  private refusal: TokenRefusedError | null = null;
  private finish: (refused: TokenRefusedError | null) => void = () => undefined;
  /**
   * Settles once the watcher has stopped: with the refusal when the server refused the token (no
   * retry can get past that, so the watcher stops by itself), else with null.
   */
  readonly finished = new Promise<TokenRefusedError | null>((resolve) => (this.finish = resolve));

  constructor(private readonly options: WatcherOptions) {
    this.log = options.log ?? ((line) => process.stdout.write(`${new Date().toISOString()} ${line}\n`));
  }

  /** One state file per server, so signing in elsewhere starts afresh. */
  static defaultStateFile(server: string, dir: string): string {
    return path.join(dir, `watch-${createHash('sha256').update(server).digest('hex').slice(0, 12)}.json`);
  }

  async start(): Promise<void> {
    try {
      this.state = JSON.parse(await readFile(this.options.stateFile, 'utf8')) as Record<string, StateEntry>;
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code !== 'ENOENT')
        throw new Error(`${this.options.stateFile}: ${(error as Error).message}`);
    }
    this.log(`watching ${this.options.dirs.join(', ')} (state: ${this.options.stateFile})`);
    const matcher = fileMatcher(this.options.filter);
    const relative = (file: string) => {
      const root = this.options.dirs.find((dir) => file === dir || file.startsWith(`${dir}${path.sep}`));
      return root ? path.relative(root, file).split(path.sep).join('/') : null;
    };
    this.watcher = watch(this.options.dirs, {
      ignoreInitial: true,
      ignored: (file, stats) => {
        const rel = relative(file);
        if (!rel) return false;
        return stats?.isDirectory()
          ? matcher.skipsDirectory(rel)
          : stats?.isFile()
            ? !matcher.takesFile(rel)
            : false;
      },
    });
    this.watcher.on('add', (file) => void this.consider(file));
    this.watcher.on('change', (file) => void this.consider(file));
    this.watcher.on('error', (error) => this.log(`watcher error: ${(error as Error).message}`));
    await this.rescan();
    if (this.abort.signal.aborted) return;
    this.timers.push(setInterval(() => this.pump(), 1000));
    this.timers.push(setInterval(() => void this.rescan(), this.options.rescanMs));
    this.pump();
  }

  async stop(): Promise<void> {
    try {
      this.abort.abort();
      for (const timer of this.timers) clearInterval(timer);
      await this.watcher?.close();
      await this.running;
      if (this.saveTimer) clearTimeout(this.saveTimer);
      await this.save();
    } finally {
      this.finish(this.refusal);
    }
  }

  /** Not awaited where it is found (inside a round, which stop waits for). */
  private refuse(refused: TokenRefusedError): void {
    if (this.abort.signal.aborted) return;
    this.refusal = refused;
    this.log(`stopping: ${refused.message}`);
    this.stop().catch((error: unknown) =>
      this.log(`cannot write the state file: ${(error as Error).message}`),
    );
  }

  /**
   * Once a run (retried at each rescan while the server is away): files remembered as sent that the
   * server lost (their original gone from its disk, or never kept because a watched folder on the
   * server had them) are forgotten, so the scan finds them new and sends them again. Files deleted
   * on the server stay deleted. Asked even with nothing remembered: it is also the check, at start,
   * that the server takes this token.
   */
  private async forgetLost(): Promise<void> {
    const sent = Object.entries(this.state).filter(([, entry]) => entry.sha256);
    let lost: Set<string>;
    try {
      ({ lost } = await this.options.client.hashStates([...new Set(sent.map(([, entry]) => entry.sha256!))]));
    } catch (error) {
      if (error instanceof TokenRefusedError) return this.refuse(error);
      this.log(`cannot ask the server which files it still has: ${(error as Error).message}`);
      return;
    }
    this.verified = true;
    const forgotten = sent.filter(([, entry]) => lost.has(entry.sha256!));
    for (const [file] of forgotten) delete this.state[file];
    if (forgotten.length)
      this.log(`${forgotten.length} file(s) sent before were lost by the server: sending them again`);
  }

  private async rescan(): Promise<void> {
    if (!this.verified) await this.forgetLost();
    const scan = await scanPaths(this.options.dirs, this.options.filter);
    for (const error of scan.errors) this.log(`cannot read ${error.path}: ${error.reason}`);
    for (const file of scan.files) this.note(file.path, file.size, file.mtimeMs);
    // Forget files that are gone, unless a folder could not be read (an unmounted share is not a deletion).
    if (scan.errors.length === 0) {
      const present = new Set(scan.files.map((file) => file.path));
      for (const file of Object.keys(this.state)) if (!present.has(file)) delete this.state[file];
    }
  }

  private async consider(file: string): Promise<void> {
    try {
      const info = await stat(file);
      if (info.isFile()) this.note(file, info.size, info.mtimeMs);
    } catch {
      this.candidates.delete(file);
    }
  }

  private note(file: string, size: number, mtimeMs: number): void {
    const known = this.state[file];
    if (known && known.size === size && known.mtimeMs === mtimeMs) {
      this.candidates.delete(file);
      return;
    }
    const candidate = this.candidates.get(file);
    if (candidate && candidate.size === size && candidate.mtimeMs === mtimeMs) return;
    // A file last written long ago is already still; one written just now must settle first.
    this.candidates.set(file, {
      size,
      mtimeMs,
      changedAt: candidate ? Date.now() : Math.min(Date.now(), mtimeMs),
    });
  }

  private pump(): void {
    if (this.running || this.abort.signal.aborted || Date.now() < this.retryAt || this.candidates.size === 0)
      return;
    this.running = this.round()
      .catch((error: unknown) => this.log(`upload round failed: ${(error as Error).message}`))
      .finally(() => {
        this.running = null;
      });
  }

  private async round(): Promise<void> {
    const now = Date.now();
    const ready: ScannedFile[] = [];
    for (const [file, candidate] of this.candidates) {
      let info;
      try {
        info = await stat(file);
      } catch {
        this.candidates.delete(file);
        continue;
      }
      if (info.size !== candidate.size || info.mtimeMs !== candidate.mtimeMs) {
        this.candidates.set(file, { size: info.size, mtimeMs: info.mtimeMs, changedAt: now });
        continue;
      }
      if (now - candidate.changedAt < this.options.stableMs) continue;
      ready.push({ path: file, size: info.size, mtimeMs: info.mtimeMs });
      if (ready.length >= ROUND_SIZE) break;
    }
    if (ready.length === 0) return;

    let unreachable: string | null = null;
    const settle = (result: FileResult) => {
      const file = result.file;
      // The server failed, not the file: nothing is remembered, all is tried again.
      if (result.status === 'failed' && !result.aboutFile) {
        unreachable ??= result.reason ?? 'failed';
        return;
      }
      // Recorded as it was when hashed; if it changed since, a later round sends the new content.
      const candidate = this.candidates.get(file.path);
      if (!candidate || candidate.size !== file.size || candidate.mtimeMs !== file.mtimeMs) return;
      if (result.status === 'failed' && result.retryable) {
        // Still being written: it waits to be stable again, without holding up the other files.
        this.candidates.set(file.path, { ...candidate, changedAt: Date.now() });
        return;
      }
      this.candidates.delete(file.path);
      if (result.status === 'failed') {
        this.state[file.path] = { size: file.size, mtimeMs: file.mtimeMs, refused: result.reason };
        this.log(`failed ${file.path}: ${result.reason} (not retried until the file changes)`);
      } else {
        this.state[file.path] = { size: file.size, mtimeMs: file.mtimeMs, sha256: result.sha256 };
        this.log(`${result.status} ${file.path}`);
      }
      this.saveSoon();
    };
    // Short retries inside a round: the watcher's own back-off takes over when the server stays away.
    const uploader = new Uploader(
      this.options.client,
      this.options.resume,
      { ...this.options.uploader, retryDelays: this.options.uploader.retryDelays.slice(0, 2) },
      { onDone: settle },
      this.abort.signal,
    );
    try {
      await uploader.run(ready);
    } catch (error) {
      if (!(error instanceof TokenRefusedError)) throw error;
      await this.save();
      return this.refuse(error);
    }
    await this.save();
    if (unreachable && !this.abort.signal.aborted) {
      this.backoff = Math.min(this.backoff ? this.backoff * 2 : 2000, MAX_BACKOFF_MS);
      this.retryAt = Date.now() + this.backoff;
      this.log(`will try again in ${Math.round(this.backoff / 1000)} s: ${unreachable}`);
    } else {
      this.backoff = 0;
    }
  }

  /** Each finished file is on disk within a second, so a kill loses at most that much (and dedup covers it). */
  private saveSoon(): void {
    this.saveTimer ??= setTimeout(() => {
      this.saveTimer = null;
      void this.save();
    }, 500);
  }

  private async save(): Promise<void> {
    const snapshot = JSON.stringify(this.state);
    this.saving = this.saving
      .catch(() => undefined)
      .then(() => writeFileAtomic(this.options.stateFile, snapshot));
    await this.saving;
  }
}
