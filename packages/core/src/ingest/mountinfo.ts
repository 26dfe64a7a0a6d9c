// Which filesystem a path lives on, from /proc/self/mountinfo, and whether it is a network one.
import { readFile } from 'node:fs/promises';
import path from 'node:path';

export interface MountEntry {
  mountPoint: string;
  fsType: string;
}

/** mountinfo escapes space, tab, newline and backslash in paths as octal (\040 …). */
function unescape(field: string): string {
  return field.replace(/\\([0-7]{3})/g, (_, octal: string) => String.fromCharCode(parseInt(octal, 8)));
}

/** Parses mountinfo lines: fields up to " - " describe the mount, the first after it is the type. */
export function parseMountInfo(text: string): MountEntry[] {
  const entries: MountEntry[] = [];
  for (const line of text.split('\n')) {
    const separator = line.indexOf(' - ');
    if (separator < 0) continue;
    const before = line.slice(0, separator).split(' ');
    const after = line.slice(separator + 3).split(' ');
    if (before.length < 5 || !after[0]) continue;
    entries.push({ mountPoint: unescape(before[4]!), fsType: after[0] });
  }
  return entries;
}

/** The filesystem type of the mount holding `target` (the deepest, latest mount point above it). */
export function filesystemOf(target: string, mounts: MountEntry[]): string | null {
  const resolved = path.resolve(target);
  let best: MountEntry | null = null;
  for (const mount of mounts) {
    const inside =
      resolved === mount.mountPoint ||
      mount.mountPoint === '/' ||
      resolved.startsWith(mount.mountPoint.endsWith('/') ? mount.mountPoint : `${mount.mountPoint}/`);
    // Later lines are mounted over earlier ones, so an equally deep later mount wins.
    if (inside && (!best || mount.mountPoint.length >= best.mountPoint.length)) best = mount;
  }
  return best?.fsType ?? null;
}

/** Reads this process's mount table; null where there is none (not Linux). */
export async function detectFilesystem(target: string): Promise<string | null> {
  try {
    return filesystemOf(target, parseMountInfo(await readFile('/proc/self/mountinfo', 'utf8')));
  } catch {
    return null;
  }
}

const networkTypes = new Set([
  'cifs',
  'smb3',
  'smbfs',
  'nfs',
  'nfs4',
  '9p',
  'afs',
  'ceph',
  'glusterfs',
  'davfs',
  'virtiofs',
]);

/** Local disks that happen to be driven through FUSE (NTFS and exFAT drives) do get events. */
const localFuseTypes = new Set(['fuseblk', 'fuse.ntfs-3g', 'fuse.exfat']);

/**
 * Network filesystems deliver no inotify event for changes made by other machines; other FUSE
 * filesystems (sshfs, rclone, s3fs, …) are treated the same, since most of them are remote.
 */
export function isNetworkFilesystem(fsType: string | null): boolean {
  if (!fsType) return false;
  if (networkTypes.has(fsType)) return true;
  if (localFuseTypes.has(fsType)) return false;
  return fsType === 'fuse' || fsType.startsWith('fuse.');
}
