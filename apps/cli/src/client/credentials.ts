// Where the client keeps its API token (config dir, mode 0600) and its resumable state (state dir).
import { chmod, mkdir, readFile, rename, writeFile } from 'node:fs/promises';
import { homedir } from 'node:os';
import path from 'node:path';

export interface Credentials {
  server: string;
  token: string;
}

/** $XDG_CONFIG_HOME/nook, else ~/.config/nook. */
export function configDir(env = process.env): string {
  return path.join(env.XDG_CONFIG_HOME || path.join(homedir(), '.config'), 'nook');
}

/** $XDG_STATE_HOME/nook, else ~/.local/state/nook: what went up, and unfinished uploads' URLs. */
export function stateDir(env = process.env): string {
  return path.join(env.XDG_STATE_HOME || path.join(homedir(), '.local', 'state'), 'nook');
}

export const credentialsFile = (env = process.env) => path.join(configDir(env), 'credentials.json');

/** Writes through a temp name and rename, so a crash never leaves half a file behind. */
export async function writeFileAtomic(file: string, data: string, mode = 0o600): Promise<void> {
  await mkdir(path.dirname(file), { recursive: true, mode: 0o700 });
  const temp = `${file}.${process.pid}.tmp`;
  await writeFile(temp, data, { mode });
  await chmod(temp, mode);
  await rename(temp, file);
}

export async function saveCredentials(credentials: Credentials, env = process.env): Promise<string> {
  const file = credentialsFile(env);
  await writeFileAtomic(file, JSON.stringify(credentials, null, 2) + '\n');
  return file;
}

/** NOOK_SERVER + NOOK_TOKEN (for scripts) win over the file `nook login` wrote. */
export async function loadCredentials(env = process.env): Promise<Credentials> {
  if (env.NOOK_SERVER && env.NOOK_TOKEN) return { server: env.NOOK_SERVER, token: env.NOOK_TOKEN };
  const file = credentialsFile(env);
  let parsed: Partial<Credentials>;
  try {
    parsed = JSON.parse(await readFile(file, 'utf8')) as Partial<Credentials>;
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ENOENT')
      throw new Error('not signed in: run `nook login <server>` first (or set NOOK_SERVER and NOOK_TOKEN)');
    throw new Error(`${file}: ${(error as Error).message}`);
  }
  if (typeof parsed.server !== 'string' || typeof parsed.token !== 'string')
    throw new Error(`${file}: expected { server, token }; run \`nook login <server>\` again`);
  return { server: parsed.server, token: parsed.token };
}

/** `nook.example` or `192.168.1.5:8080` mean http://…; a trailing slash is dropped. */
export function normaliseServer(server: string): string {
  const withScheme = /^https?:\/\//i.test(server) ? server : `http://${server}`;
  const url = new URL(withScheme);
  return url.origin + url.pathname.replace(/\/+$/, '');
}
