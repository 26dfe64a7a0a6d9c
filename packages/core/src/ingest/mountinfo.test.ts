// Filesystem detection from mountinfo lines, and which types count as network filesystems.
import { describe, expect, it } from 'vitest';
import { filesystemOf, isNetworkFilesystem, parseMountInfo } from './mountinfo';

const sample = [
  '22 1 8:2 / / rw,relatime shared:1 - ext4 /dev/sda2 rw',
  '40 22 0:35 / /mnt/nas rw,relatime shared:20 - cifs //nas/photos rw,vers=3.1.1',
  '41 22 0:36 / /mnt/my\\040share rw shared:21 - nfs4 nas:/export rw',
  '42 40 0:37 / /mnt/nas/inner rw - fuse.sshfs user@host:/x rw',
  '43 22 8:17 / /media/usb rw - fuseblk /dev/sdb1 rw',
].join('\n');

describe('mountinfo', () => {
  const mounts = parseMountInfo(sample);

  it('finds the deepest mount holding a path, with escaped spaces', () => {
    expect(filesystemOf('/home/me/Pictures', mounts)).toBe('ext4');
    expect(filesystemOf('/mnt/nas/2024', mounts)).toBe('cifs');
    expect(filesystemOf('/mnt/nas', mounts)).toBe('cifs');
    expect(filesystemOf('/mnt/nasty', mounts)).toBe('ext4');
    expect(filesystemOf('/mnt/my share/a', mounts)).toBe('nfs4');
    expect(filesystemOf('/mnt/nas/inner/deep', mounts)).toBe('fuse.sshfs');
  });

  it('polls network and remote FUSE filesystems, not local disks', () => {
    for (const type of ['cifs', 'smb3', 'nfs', 'nfs4', 'fuse.sshfs', 'fuse.rclone', '9p'])
      expect(isNetworkFilesystem(type), type).toBe(true);
    for (const type of ['ext4', 'btrfs', 'xfs', 'tmpfs', 'fuseblk', null])
      expect(isNetworkFilesystem(type), String(type)).toBe(false);
  });
});
