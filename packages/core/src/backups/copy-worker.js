// Copies for backups and restores, in a worker thread (see CopyPool in copy.ts). Synchronous file calls
// cost one system call each here; the same calls made asynchronously from the main thread cost a
// hand-off to libuv's thread pool and a wake-up each way, which on small photos was most of the work.
// Plain JavaScript: a worker thread loads it without the TypeScript loader the main thread runs under.
import { createHash, randomBytes } from 'node:crypto';
import {
  accessSync,
  closeSync,
  constants,
  copyFileSync,
  mkdirSync,
  openSync,
  readSync,
  renameSync,
  rmSync,
  statSync,
  writeSync,
} from 'node:fs';
import path from 'node:path';
import { parentPort, workerData } from 'node:worker_threads';
import Database from 'better-sqlite3';

const BUFFER_SIZE = 1024 * 1024;
/** From this size on a file is copied chunk by chunk, so an abort takes effect within it. */
const WHOLE_FILE_LIMIT = 64 * BUFFER_SIZE;

const buffer = Buffer.allocUnsafe(BUFFER_SIZE);
/** Set to 1 by the main thread when the run is aborted. */
const aborted = new Int32Array(workerData.abort);
const bytesPerSecond = workerData.bytesPerSecond ?? 0;
const throttleStart = Date.now();
let throttledBytes = 0;
const sleeper = new Int32Array(new SharedArrayBuffer(4));
/** Folders this worker made or found, so each is created once. */
const folders = new Set();
/**
 * A temp folder of this worker's own: workers creating files in one folder queue on its lock (ext4
 * spins on it), where in folders of their own they do not meet.
 */
const temps = workerData.tempDir && path.join(workerData.tempDir, randomBytes(6).toString('hex'));
let made = 0;

/** Something wrong with this one source file: the main thread turns it into a FileCopyError. */
class Problem extends Error {
  constructor(problem, code) {
    super(problem);
    this.problem = problem;
    this.code = code;
  }
}

class Aborted extends Error {}

function checkAbort() {
  if (Atomics.load(aborted, 0) !== 0) throw new Aborted();
}

/** Keeps the bytes read under the run's limit (a Pi's USB bus serves the server too). */
function throttle(bytes) {
  if (!bytesPerSecond) return;
  throttledBytes += bytes;
  const wait = throttleStart + (throttledBytes / bytesPerSecond) * 1000 - Date.now();
  if (wait > 0) Atomics.wait(sleeper, 0, 0, wait);
}

/** A failure that is the source's own (gone, unreadable) rather than the target's. */
function sourceProblem(error) {
  const code = error?.code;
  if (code === 'ENOENT') return new Problem('source-missing');
  if (code === 'EACCES' || code === 'EPERM') return new Problem('source-denied');
  if (code === 'EIO') return new Problem('source-io');
  return error;
}

/** copy_file_range(2): the kernel copies, no bytes pass through JavaScript. */
function copyWhole(source, temp) {
  try {
    copyFileSync(source, temp, constants.COPYFILE_EXCL);
  } catch (error) {
    // copyFile opens both ends: a source that cannot be read is that file's problem, not the target's.
    try {
      accessSync(source, constants.R_OK);
    } catch (sourceError) {
      throw sourceProblem(sourceError);
    }
    throw error;
  }
}

function copyInChunks(source, temp) {
  let input;
  try {
    input = openSync(source, 'r');
  } catch (error) {
    throw sourceProblem(error);
  }
  try {
    const output = openSync(temp, 'wx', 0o644);
    try {
      for (;;) {
        checkAbort();
        const bytesRead = readSync(input, buffer, 0, BUFFER_SIZE, null);
        if (bytesRead === 0) break;
        throttle(bytesRead);
        let written = 0;
        while (written < bytesRead) written += writeSync(output, buffer, written, bytesRead - written);
      }
    } finally {
      closeSync(output);
    }
  } finally {
    closeSync(input);
  }
}

/** SHA-256 and size of a file. With the size it should have, the last read is spared: a short read is the end. */
function hashFile(file, expectedSize) {
  const fd = openSync(file, 'r');
  try {
    const hash = createHash('sha256');
    let size = 0;
    for (;;) {
      checkAbort();
      const wanted =
        expectedSize === undefined
          ? BUFFER_SIZE
          : Math.min(BUFFER_SIZE, Math.max(1, expectedSize - size + 1));
      const bytesRead = readSync(fd, buffer, 0, wanted, null);
      if (bytesRead === 0) break;
      hash.update(buffer.subarray(0, bytesRead));
      size += bytesRead;
      if (bytesRead < wanted) break;
    }
    return { sha256: hash.digest('hex'), size };
  } finally {
    closeSync(fd);
  }
}

/**
 * Copies to the temp file and reads the copy back: it must hash to what Nook recorded, or (derived
 * files, with no recorded hash) to the source hashed after the copy.
 */
function copy({ source, expectedSha256, size }) {
  if (made === 0) mkdirSync(temps, { recursive: true });
  const temp = path.join(temps, `${made++}.part`);
  try {
    if (bytesPerSecond || size >= WHOLE_FILE_LIMIT) copyInChunks(source, temp);
    else copyWhole(source, temp);
    // Read back what the target's filesystem holds: a short write or a network share that lost data
    // shows here. The pages usually come from the cache, so the disk's surface is verify's to check.
    const written = hashFile(temp, size);
    if (expectedSha256 !== null) {
      if (written.sha256 !== expectedSha256) {
        let original = null;
        try {
          original = hashFile(source);
        } catch {
          // Unreadable now: it changed (or went) since it was indexed.
        }
        throw new Problem(original?.sha256 === expectedSha256 ? 'read-back' : 'mismatch');
      }
    } else {
      let original;
      try {
        original = hashFile(source);
      } catch (error) {
        throw sourceProblem(error);
      }
      if (original.sha256 !== written.sha256 || original.size !== written.size) throw new Problem('changed');
    }
    return { temp, ...written };
  } catch (error) {
    rmSync(temp, { force: true });
    if (error instanceof Aborted) return { aborted: true };
    if (error instanceof Problem) return { problem: error.problem };
    return { error: { code: error?.code, message: error?.message ?? String(error) } };
  }
}

/**
 * Gives durable temp files their final names. An original no longer at the size that was copied
 * changed after its copy was read: that copy is dropped. Returns the folders that gained entries
 * (a destination's folder, and the parents of folders created), which need a sync.
 */
function commit(moves) {
  const results = [];
  const touched = new Set();
  for (const { source, temp, destination, size } of moves) {
    let now;
    try {
      now = statSync(source).size;
    } catch {
      now = null;
    }
    if (now !== size) {
      rmSync(temp, { force: true });
      results.push({ problem: now === null ? 'source-missing' : 'changed' });
      continue;
    }
    try {
      const folder = path.dirname(destination);
      if (!folders.has(folder)) {
        const first = mkdirSync(folder, { recursive: true });
        if (first)
          for (let up = folder; up !== path.dirname(first); up = path.dirname(up))
            touched.add(path.dirname(up));
        folders.add(folder);
      }
      touched.add(folder);
      renameSync(temp, destination);
      results.push({ committed: true });
    } catch (error) {
      results.push({ error: { code: error?.code, message: error?.message ?? String(error) } });
      break;
    }
  }
  return { results, touched: [...touched] };
}

/** Backup steps after the first are taken whole: writers meanwhile never make the copy start over. */
const ALL_PAGES = 2 ** 30;

/**
 * Copies the live database to `file` with SQLite's online backup, and lists its libraries and assets
 * (SnapshotListing in manifest.ts) in the same read transaction, so the files mirrored are exactly the
 * ones the snapshot describes. A connection of its own, in this thread: Nook's connection and its
 * event loop stay free meanwhile (the backup's fsync waits for the target disk), and WAL lets writers
 * go on beside it. The listing is posted as soon as it is read, so the run can plan and copy while
 * the copy of the database is written. That copy is then switched to a rollback journal, a plain file
 * that opens without -wal or -shm beside it (also from a read-only disk), and read back for its hash.
 */
async function snapshot({ database, file }) {
  try {
    const source = new Database(database, { readonly: true, fileMustExist: true, timeout: 10_000 });
    let listing;
    try {
      source.exec('BEGIN');
      try {
        listing = {
          libraries: source.prepare('SELECT id, name, type, root_path, offline_at FROM libraries').all(),
          assets: source
            .prepare(
              'SELECT id, library_id, path, sha256, size, offline_at, purged_at FROM assets ORDER BY library_id, path',
            )
            .all(),
        };
        parentPort.postMessage({ early: true, listing });
        await source.backup(file, { progress: () => ALL_PAGES });
      } finally {
        source.exec('COMMIT');
      }
    } finally {
      source.close();
    }
    const copy = new Database(file, { fileMustExist: true });
    try {
      copy.pragma('journal_mode = DELETE');
    } finally {
      copy.close();
    }
    return { database: hashFile(file) };
  } catch (error) {
    return { error: { code: error?.code, message: error?.message ?? String(error) } };
  }
}

/** What verify needs of a file: its hash and size, or why it could not be read. */
function check({ file, size }) {
  try {
    return hashFile(file, size);
  } catch (error) {
    if (error instanceof Aborted) return { aborted: true };
    return { error: { code: error?.code, message: error?.message ?? String(error) } };
  }
}

parentPort.on('message', async (request) => {
  if (request.snapshot) parentPort.postMessage(await snapshot(request.snapshot));
  else if (request.copy) parentPort.postMessage({ outcomes: request.copy.map(copy) });
  else if (request.hash) parentPort.postMessage({ outcomes: request.hash.map(check) });
  else parentPort.postMessage(commit(request.commit));
});
