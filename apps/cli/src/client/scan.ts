// Finding the files to upload: paths given on the command line, folders walked recursively, globs applied.
import { opendir, stat } from 'node:fs/promises';
import path from 'node:path';
import { defaultExclusions } from '@nook/core/files';
import picomatch from 'picomatch';

export interface ScannedFile {
  /** Absolute. */
  path: string;
  size: number;
  mtimeMs: number;
}

export interface ScanFilter {
  /** Globs a file must match (all files when empty); a pattern without a slash matches the name. */
  include: string[];
  /** Globs that skip files and whole folders; NAS and OS clutter is always skipped. */
  exclude: string[];
}

export interface ScanResult {
  files: ScannedFile[];
  errors: { path: string; reason: string }[];
}

export function fileMatcher(filter: ScanFilter): {
  skipsDirectory(rel: string): boolean;
  takesFile(rel: string): boolean;
} {
  const options = { dot: true, basename: true };
  const excluded = picomatch([...defaultExclusions, ...filter.exclude], options);
  const included = filter.include.length ? picomatch(filter.include, options) : () => true;
  return {
    skipsDirectory: (rel) => excluded(rel),
    takesFile: (rel) => !excluded(rel) && included(rel),
  };
}

export async function scanPaths(paths: string[], filter: ScanFilter): Promise<ScanResult> {
  const matcher = fileMatcher(filter);
  const result: ScanResult = { files: [], errors: [] };
  const seen = new Set<string>();
  const add = (file: ScannedFile) => {
    if (seen.has(file.path)) return;
    seen.add(file.path);
    result.files.push(file);
  };

  const walk = async (root: string, dir: string): Promise<void> => {
    let entries;
    try {
      entries = await opendir(dir);
    } catch (error) {
      result.errors.push({ path: dir, reason: (error as Error).message });
      return;
    }
    for await (const entry of entries) {
      const full = path.join(dir, entry.name);
      const rel = path.relative(root, full).split(path.sep).join('/');
      // Symlinked folders are not followed (loops); symlinked files are read like files.
      if (entry.isDirectory()) {
        if (!matcher.skipsDirectory(rel)) await walk(root, full);
        continue;
      }
      if (!(entry.isFile() || entry.isSymbolicLink()) || !matcher.takesFile(rel)) continue;
      try {
        const info = await stat(full);
        if (info.isFile()) add({ path: full, size: info.size, mtimeMs: info.mtimeMs });
      } catch (error) {
        result.errors.push({ path: full, reason: (error as Error).message });
      }
    }
  };

  for (const given of paths) {
    const absolute = path.resolve(given);
    try {
      const info = await stat(absolute);
      if (info.isDirectory()) await walk(absolute, absolute);
      else if (info.isFile()) add({ path: absolute, size: info.size, mtimeMs: info.mtimeMs });
      else result.errors.push({ path: absolute, reason: 'not a file or folder' });
    } catch (error) {
      result.errors.push({
        path: absolute,
        reason:
          (error as NodeJS.ErrnoException).code === 'ENOENT'
            ? 'no such file or folder'
            : (error as Error).message,
      });
    }
  }
  result.files.sort((a, b) => a.path.localeCompare(b.path));
  return result;
}
