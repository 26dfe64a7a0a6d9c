// Opening an original that was checked: a file or folder swapped for a link since is refused.
import { mkdir, mkdtemp, readFile, realpath, rename, rm, symlink, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { openChecked } from './files';

describe('openChecked', () => {
  const dirs: string[] = [];
  afterAll(async () => {
    for (const dir of dirs) await rm(dir, { recursive: true, force: true });
  });

  const scene = async () => {
    const root = await realpath(await mkdtemp(path.join(tmpdir(), 'nook-open-')));
    dirs.push(root);
    await mkdir(path.join(root, 'library', 'sub'), { recursive: true });
    await mkdir(path.join(root, 'data'));
    await writeFile(path.join(root, 'library', 'sub', 'a.jpg'), 'photo');
    await writeFile(path.join(root, 'data', 'a.jpg'), 'secret');
    return { root, checked: path.join(root, 'library', 'sub', 'a.jpg') };
  };

  it('reads the file that was checked', async () => {
    const { checked } = await scene();
    const handle = await openChecked(checked);
    try {
      expect(await readFile(handle, 'utf8')).toBe('photo');
    } finally {
      await handle.close();
    }
  });

  it('refuses when the file became a link after the check', async () => {
    const { root, checked } = await scene();
    await rm(checked);
    await symlink(path.join(root, 'data', 'a.jpg'), checked);
    await expect(openChecked(checked)).rejects.toMatchObject({ code: 'FORBIDDEN' });
  });

  it('refuses when a folder on the way became a link after the check', async () => {
    const { root, checked } = await scene();
    await rename(path.join(root, 'library', 'sub'), path.join(root, 'library', 'moved'));
    await symlink(path.join(root, 'data'), path.join(root, 'library', 'sub'));
    await expect(openChecked(checked)).rejects.toMatchObject({ code: 'FORBIDDEN' });
  });

  it('says a file that is gone is not found', async () => {
    const { checked } = await scene();
    await rm(checked);
    await expect(openChecked(checked)).rejects.toMatchObject({ code: 'NOT_FOUND' });
  });
});
