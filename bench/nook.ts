// Starts the real Nook (`nook start`) on a fresh data dir and a free port, the way a household would run it.
import { randomBytes } from 'node:crypto';
import { chmod, mkdir } from 'node:fs/promises';
import path from 'node:path';
import { startChild, waitForHttp, type Child } from './proc';

export interface NookServer extends Child {
  url: string;
  /** An API token's Authorization header, made through first-run setup like a new household would. */
  authHeaders: Record<string, string>;
}

/** Creates the administrator, then an API token with the read and upload scopes. */
async function signIn(url: string): Promise<Record<string, string>> {
  const post = async (procedure: string, body: unknown, cookie?: string) => {
    const response = await fetch(`${url}/trpc/${procedure}`, {
      method: 'POST',
      body: JSON.stringify(body),
      headers: { 'content-type': 'application/json', origin: url, ...(cookie && { cookie }) },
    });
    if (!response.ok) throw new Error(`${procedure}: HTTP ${response.status} ${await response.text()}`);
    return response;
  };
  const setup = await post('auth.setup', { username: 'bench', password: randomBytes(12).toString('hex') });
  const cookie = setup.headers.getSetCookie()[0]!.split(';')[0]!;
  const created = (await (
    await post('auth.createToken', { name: 'bench', scopes: ['read', 'upload'] }, cookie)
  ).json()) as {
    result: { data: { token: string } };
  };
  return { authorization: `Bearer ${created.result.data.token}` };
}

export async function startNook(
  repoRoot: string,
  dataDir: string,
  port: number,
  /** Flags for the server's node, e.g. --cpu-prof for a profile. */
  nodeArgs: string[] = [],
): Promise<NookServer> {
  await mkdir(dataDir, { recursive: true });
  // As root the embedded PostgreSQL runs as `postgres`, which must be able to traverse the data dir.
  await chmod(dataDir, 0o755);
  const env: NodeJS.ProcessEnv = {
    ...process.env,
    NOOK_DATA_DIR: dataDir,
    NOOK_PORT: String(port),
    NOOK_HOST: '127.0.0.1',
    NOOK_LOG_LEVEL: 'warn',
  };
  const externalDatabase = process.env.NOOK_DATABASE_URL || process.env.NOOK_TEST_DATABASE_URL;
  if (externalDatabase) {
    env.NOOK_DATABASE_URL = externalDatabase;
    // A shared PostgreSQL must not mix this run's queue with anybody else's.
    env.NOOK_QUEUE_SCHEMA = `bench_${randomBytes(4).toString('hex')}`;
  }
  const child = startChild(
    'nook',
    process.execPath,
    [...nodeArgs, path.join(repoRoot, 'apps/cli/bin/nook.js'), 'start'],
    {
      cwd: repoRoot,
      env,
    },
  );
  const url = `http://127.0.0.1:${port}`;
  try {
    await waitForHttp(`${url}/api/health`, child.process, 120_000);
  } catch (error) {
    await child.stop();
    throw new Error(`Nook did not start: ${(error as Error).message}\n${child.output()}`);
  }
  return { ...child, url, authHeaders: await signIn(url) };
}
