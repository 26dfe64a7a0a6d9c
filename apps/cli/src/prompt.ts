// Reading a password: from a pipe for scripts, or typed twice without echo on a terminal.
import { createInterface } from 'node:readline';
import { createInterface as createPromiseInterface } from 'node:readline/promises';
import { Writable } from 'node:stream';

async function readAll(input: NodeJS.ReadStream): Promise<string> {
  let text = '';
  for await (const chunk of input) text += String(chunk);
  return text.replace(/\r?\n$/, '');
}

function ask(question: string): Promise<string> {
  let muted = false;
  const output = new Writable({
    write(chunk: Buffer, _encoding, callback) {
      if (!muted) process.stderr.write(chunk);
      callback();
    },
  });
  const rl = createInterface({ input: process.stdin, output, terminal: true });
  return new Promise((resolve) => {
    rl.question(question, (answer) => {
      rl.close();
      process.stderr.write('\n');
      resolve(answer);
    });
    muted = true;
  });
}

export async function readPassword(): Promise<string> {
  if (!process.stdin.isTTY) return readAll(process.stdin);
  const first = await ask('Password: ');
  const second = await ask('Repeat it: ');
  if (first !== second) throw new Error('the passwords differ');
  return first;
}

/** Signing in: asked once on a terminal, or read from a pipe; never empty. */
export async function readLoginPassword(): Promise<string> {
  const password = process.stdin.isTTY ? await ask('Password: ') : await readAll(process.stdin);
  if (password) return password;
  throw new Error(
    process.stdin.isTTY
      ? 'no password given'
      : 'no password on standard input: pipe it in (nook login <server> --username <name> < file), or run nook login on a terminal',
  );
}

/** The account to sign in to, asked on a terminal; a script has nobody to ask and must say it. */
export async function readUsername(): Promise<string> {
  if (!process.stdin.isTTY)
    throw new Error(
      'no terminal to ask for the user name: pass --username <name> (the password is then read from standard input), or --token <token>',
    );
  const rl = createPromiseInterface({ input: process.stdin, output: process.stderr });
  try {
    const username = (await rl.question('Username: ')).trim();
    if (!username) throw new Error('no user name given');
    return username;
  } finally {
    rl.close();
  }
}
