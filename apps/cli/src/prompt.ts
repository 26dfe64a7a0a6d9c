// Reading a password: from a pipe for scripts, or typed twice without echo on a terminal.
import { createInterface } from 'node:readline';
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

/** Signing in: asked once on a terminal, or read from a pipe. */
export async function readLoginPassword(): Promise<string> {
  if (!process.stdin.isTTY) return readAll(process.stdin);
  return ask('Password: ');
}
