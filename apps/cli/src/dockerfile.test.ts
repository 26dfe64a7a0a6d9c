// No Docker engine runs here, so the image's promises are checked piece by piece: its shape, and its
// start and health-check commands, read from the Dockerfile and run on this host as a non-root user.
import { spawn, type ChildProcess } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { chown, rm } from 'node:fs/promises';
import { createServer } from 'node:net';
import { fileURLToPath } from 'node:url';
import { DockerfileParser, type Instruction } from 'dockerfile-ast';
import { afterAll, describe, expect, it } from 'vitest';
import { NOBODY, eventually, makeTempDir, runnableByNobody } from '../../../test/harness';

const repo = fileURLToPath(new URL('../../..', import.meta.url));
const dockerfile = DockerfileParser.parse(readFileSync(`${repo}/Dockerfile`, 'utf8'));

/** The exec form (["a", "b"]) of CMD or HEALTHCHECK CMD, as an argument list. */
function execForm(instruction: Instruction, skip = 0): string[] {
  const tokens = instruction.getArguments().map((argument) => argument.getValue());
  return JSON.parse(tokens.slice(skip).join(' ')) as string[];
}

/** Instructions of the last stage, the one the image runs. */
function finalStage(): Instruction[] {
  const froms = dockerfile.getFROMs();
  const lastFrom = froms[froms.length - 1]!.getRange().start.line;
  return dockerfile.getInstructions().filter((instruction) => instruction.getRange().start.line >= lastFrom);
}

function imageEnv(): Record<string, string> {
  const env: Record<string, string> = {};
  for (const instruction of dockerfile.getENVs())
    for (const property of instruction.getProperties()) env[property.getName()] = property.getValue() ?? '';
  return env;
}

async function freePort(): Promise<number> {
  return new Promise((resolve) => {
    const server = createServer().listen(0, '127.0.0.1', () => {
      const { port } = server.address() as { port: number };
      server.close(() => resolve(port));
    });
  });
}

const run = (command: string[], env: NodeJS.ProcessEnv, uid?: number) =>
  spawn(command[0]!, command.slice(1), {
    cwd: repo,
    env,
    stdio: ['ignore', 'pipe', 'pipe'],
    ...(uid === undefined ? {} : { uid, gid: uid }),
  });

describe('Dockerfile', () => {
  it('builds in one stage and runs from a slim Debian Node image with ffmpeg, as a non-root user', () => {
    const froms = dockerfile.getFROMs();
    expect(froms.length).toBeGreaterThanOrEqual(2);
    expect(froms.at(-1)!.getImageName()).toBe('node');
    expect(froms.at(-1)!.getImageTag()).toMatch(/^20-bookworm-slim$/);
    const stage = finalStage();
    const runs = stage.filter((i) => i.getKeyword() === 'RUN').map((i) => i.getArgumentsContent() ?? '');
    expect(runs.join('\n')).toMatch(/apt-get install[^\n]* ffmpeg/);
    const user = stage.filter((i) => i.getKeyword() === 'USER').at(-1);
    expect(user?.getArgumentsContent()).toBe('node');
    expect(stage.find((i) => i.getKeyword() === 'VOLUME')?.getArgumentsContent()).toContain('/data');
    expect(imageEnv().NOOK_DATA_DIR).toBe('/data');
    expect(dockerfile.getHEALTHCHECKs()).toHaveLength(1);
  });

  describe('its start command, on this host', () => {
    let child: ChildProcess | undefined;
    let dataDir: string;

    afterAll(async () => {
      if (child && child.exitCode === null) child.kill('SIGKILL');
      if (dataDir) await rm(dataDir, { recursive: true, force: true });
    });

    // As root it runs as another user, as the image does; that needs a checkout that user can enter.
    const root = process.getuid?.() === 0;
    it.skipIf(root && !runnableByNobody(`${repo}/apps/cli/bin/nook.js`))(
      'starts Nook, passes the health check and stops cleanly on SIGTERM',
      async () => {
        // The image's environment, with this host's data dir and a free port instead of /data and 8080.
        dataDir = await makeTempDir('nook-image-');
        if (root) await chown(dataDir, NOBODY, NOBODY);
        const env = {
          PATH: process.env.PATH,
          HOME: dataDir,
          ...imageEnv(),
          NOOK_DATA_DIR: dataDir,
          NOOK_PORT: String(await freePort()),
          NOOK_HOST: '127.0.0.1',
        };
        const start = execForm(dockerfile.getCMDs()[0]!);
        expect(start).toEqual(['node', 'apps/cli/bin/nook.js', 'start']);
        child = run(start, env, root ? NOBODY : undefined);
        let output = '';
        child.stdout!.on('data', (chunk: Buffer) => (output += chunk.toString()));
        child.stderr!.on('data', (chunk: Buffer) => (output += chunk.toString()));

        const healthCheck = execForm(dockerfile.getHEALTHCHECKs()[0]!, 1);
        const healthy = () =>
          new Promise<boolean>((resolve) => {
            const probe = run(healthCheck, env);
            probe.on('close', (code) => resolve(code === 0));
          });
        await eventually(async () => {
          if (child!.exitCode !== null) throw new Error(`the start command exited: ${output}`);
          return healthy();
        }, 90_000);

        const exited = new Promise<number | null>((resolve) => child!.once('exit', resolve));
        child.kill('SIGTERM');
        expect(await exited, output).toBe(0);
        expect(await healthy()).toBe(false);
      },
    );
  });
});
