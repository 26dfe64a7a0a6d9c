// A per-installation secret for signing small proofs (e.g. an unlocked share link), kept in the data dir.
import { createHmac, randomBytes, timingSafeEqual } from 'node:crypto';
import { chmod, readFile, writeFile } from 'node:fs/promises';
import path from 'node:path';

export class ServerSecret {
  private constructor(private readonly key: Buffer) {}

  /** Reads <data>/secret.key, creating it (mode 0600) on first start. */
  static async load(dataDir: string): Promise<ServerSecret> {
    const file = path.join(dataDir, 'secret.key');
    try {
      return new ServerSecret(Buffer.from((await readFile(file, 'utf8')).trim(), 'base64url'));
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code !== 'ENOENT') throw error;
    }
    const key = randomBytes(32);
    await writeFile(file, key.toString('base64url') + '\n', { mode: 0o600, flag: 'wx' }).catch(
      async (error: NodeJS.ErrnoException) => {
        // Another process created it first: use theirs.
        if (error.code !== 'EEXIST') throw error;
      },
    );
    await chmod(file, 0o600);
    return new ServerSecret(Buffer.from((await readFile(file, 'utf8')).trim(), 'base64url'));
  }

  sign(value: string): string {
    return createHmac('sha256', this.key).update(value).digest('base64url');
  }

  verify(value: string, signature: string): boolean {
    const expected = Buffer.from(this.sign(value));
    const actual = Buffer.from(signature);
    return expected.length === actual.length && timingSafeEqual(expected, actual);
  }
}
