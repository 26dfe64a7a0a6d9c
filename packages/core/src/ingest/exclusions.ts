// Which paths of a folder library Nook leaves alone: NAS and OS clutter, our own data dir, other types.
import path from 'node:path';
import picomatch from 'picomatch';

/** Synology, QNAP and desktop clutter; offered to every new folder library, editable afterwards. */
export const defaultExclusions = [
  '@eaDir',
  '#recycle',
  '#snapshot',
  '.DS_Store',
  '._*',
  'Thumbs.db',
  '.Trash-*',
];

export interface PathFilterOptions {
  exclude: string[];
  includeExtensions: string[] | null;
  /** Absolute; skipped when it lies inside the root, so a data dir under a watched folder is not indexed. */
  dataDir?: string;
}

export interface PathFilter {
  /** True for a folder (relative, forward slashes) whose whole subtree is skipped. */
  skipsDirectory(relativePath: string): boolean;
  /** True for a file that is not indexed. */
  skipsFile(relativePath: string): boolean;
}

export function createPathFilter(root: string, options: PathFilterOptions): PathFilter {
  // A pattern without a slash matches a name anywhere in the tree, as people expect from `@eaDir`.
  const excluded = options.exclude.length
    ? picomatch(options.exclude, { dot: true, basename: true })
    : () => false;
  const extensions =
    options.includeExtensions && new Set(options.includeExtensions.map((e) => e.toLowerCase()));
  const ownDir = options.dataDir ? path.relative(path.resolve(root), path.resolve(options.dataDir)) : null;
  const insideRoot = ownDir !== null && ownDir !== '' && !ownDir.startsWith('..') && !path.isAbsolute(ownDir);
  const ownPrefix = insideRoot ? ownDir.split(path.sep).join('/') : null;
  const isOwn = (relative: string) =>
    ownPrefix !== null && (relative === ownPrefix || relative.startsWith(`${ownPrefix}/`));

  return {
    skipsDirectory: (relative) => isOwn(relative) || excluded(relative),
    skipsFile(relative) {
      if (isOwn(relative) || excluded(relative)) return true;
      if (!extensions) return false;
      const extension = path.posix.extname(relative).slice(1).toLowerCase();
      return !extensions.has(extension);
    },
  };
}
