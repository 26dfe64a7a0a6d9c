// A second, read-only connection to nook.db for the hot read paths (timeline, buckets, search, stats,
// sessions). The ORM's connection is asynchronous, single and shared with every write; a page of the
// timeline through it cost ~7 ms of hydration and queueing. better-sqlite3 runs a prepared statement
// synchronously in tens of microseconds, and WAL lets it read beside the writer without blocking it.
import Database from 'better-sqlite3';

export class ReadDb {
  private readonly db: Database.Database;
  private readonly statements = new Map<string, Database.Statement>();
  private readonly versionStatement: Database.Statement;

  constructor(file: string) {
    this.db = new Database(file, { readonly: true, fileMustExist: true });
    this.db.pragma('busy_timeout = 10000');
    // A timeline page touches ~100 rows scattered over the file. Read through the OS page cache by
    // mapping, not a syscall per 4 KiB page; SQLite falls back to reads when the mapping fails.
    this.db.pragma(`mmap_size = ${256 * 1024 * 1024}`);
    this.versionStatement = this.db.prepare('pragma data_version').pluck();
  }

  /** Statements are compiled once per distinct SQL text (filters yield a handful of shapes). */
  private statement(sql: string): Database.Statement {
    let statement = this.statements.get(sql);
    if (!statement) {
      statement = this.db.prepare(sql);
      this.statements.set(sql, statement);
    }
    return statement;
  }

  all<T>(sql: string, params: unknown[] = []): T[] {
    return this.statement(sql).all(...params) as T[];
  }

  get<T>(sql: string, params: unknown[] = []): T | undefined {
    return this.statement(sql).get(...params) as T | undefined;
  }

  /**
   * Changes whenever another connection — this process's ORM, a worker, the CLI — commits, so a
   * value computed from the database stays exact for as long as this number does not move.
   */
  version(): number {
    return this.versionStatement.get() as number;
  }

  close(): void {
    this.db.close();
  }
}

/**
 * Something computed from the database, recomputed when anything committed since and it is older
 * than `maxAgeMs` (0: whenever anything committed). Unchanged data keeps it exact indefinitely.
 * Callers arriving while it is being computed share that computation.
 */
export class VersionedCache<T> {
  private readonly entries = new Map<string, { version: number; at: number; value: Promise<T> }>();

  constructor(
    private readonly db: ReadDb,
    private readonly maxAgeMs = 0,
    private readonly maxEntries = 1000,
  ) {}

  get(key: string, compute: () => T | Promise<T>): Promise<T> {
    const version = this.db.version();
    const entry = this.entries.get(key);
    if (entry && (entry.version === version || Date.now() - entry.at < this.maxAgeMs)) return entry.value;
    const value = Promise.resolve().then(compute);
    if (this.entries.size >= this.maxEntries) this.entries.clear();
    const fresh = { version, at: Date.now(), value };
    this.entries.set(key, fresh);
    // A failure is not remembered: the next caller tries again.
    value.catch(() => this.entries.get(key) === fresh && this.entries.delete(key));
    return value;
  }
}
