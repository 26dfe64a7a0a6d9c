// Password hashing (scrypt) and random secrets, from node:crypto alone.
import { createHash, randomBytes, scrypt, timingSafeEqual } from 'node:crypto';
import { promisify } from 'node:util';
import { NookError } from '../errors';

const scryptAsync = promisify(scrypt) as (
  password: string,
  salt: Buffer,
  keylen: number,
  options: object,
) => Promise<Buffer>;

/** N=2^15, r=8: 32 MiB and roughly 100 ms per hash on a Raspberry Pi 4 — slow for guessing, fine for signing in. */
const COST = { N: 2 ** 15, r: 8, p: 1, maxmem: 64 * 1024 * 1024 };
const KEY_LENGTH = 32;

/**
 * scrypt runs on libuv's thread pool (4 threads), which file access and DNS need too, and each hash
 * takes a core and 32 MiB: a flood of sign-ins must queue here rather than there, or a request that
 * needs no password waits behind them. One at a time, a few waiting; past that the caller is told to
 * come back, which costs an attacker as much as it costs us.
 */
const MAX_RUNNING_HASHES = 1;
export const MAX_WAITING_HASHES = 16;
let runningHashes = 0;
const waitingHashes: (() => void)[] = [];
/** A running average of one hash, to tell a refused caller how long the queue takes to drain. */
let averageHashMs = 100;

async function inHashQueue<T>(work: () => Promise<T>): Promise<T> {
  if (runningHashes < MAX_RUNNING_HASHES) runningHashes += 1;
  else if (waitingHashes.length < MAX_WAITING_HASHES)
    await new Promise<void>((resolve) => waitingHashes.push(resolve));
  else {
    const drainSeconds = Math.ceil(((waitingHashes.length + 1) * averageHashMs) / 1000);
    throw new NookError(
      'SERVICE_UNAVAILABLE',
      'the server is busy checking passwords; try again in a moment',
      Math.max(1, drainSeconds),
    );
  }
  const started = performance.now();
  try {
    return await work();
  } finally {
    averageHashMs = 0.8 * averageHashMs + 0.2 * (performance.now() - started);
    // The slot passes straight to the next in line, so a newcomer cannot overtake the queue.
    const next = waitingHashes.shift();
    if (next) next();
    else runningHashes -= 1;
  }
}

export async function hashPassword(password: string): Promise<string> {
  const salt = randomBytes(16);
  const key = await inHashQueue(() => scryptAsync(password, salt, KEY_LENGTH, COST));
  return `scrypt$${COST.N}$${COST.r}$${COST.p}$${salt.toString('base64url')}$${key.toString('base64url')}`;
}

export async function verifyPassword(password: string, stored: string): Promise<boolean> {
  const [scheme, n, r, p, salt, key] = stored.split('$');
  if (scheme !== 'scrypt' || !salt || !key) return false;
  const expected = Buffer.from(key, 'base64url');
  const actual = await inHashQueue(() =>
    scryptAsync(password, Buffer.from(salt, 'base64url'), expected.length, {
      N: Number(n),
      r: Number(r),
      p: Number(p),
      maxmem: COST.maxmem,
    }),
  );
  return timingSafeEqual(actual, expected);
}

let decoy: Promise<string> | undefined;

/** A hash to compare against when the account does not exist, so timing does not reveal it. */
export function decoyPasswordHash(): Promise<string> {
  // A refusal by a full queue must not stick: the next caller makes the decoy again.
  decoy ??= hashPassword(randomBytes(16).toString('hex')).catch((error: unknown) => {
    decoy = undefined;
    throw error;
  });
  return decoy;
}

export function randomSecret(bytes = 32): string {
  return randomBytes(bytes).toString('base64url');
}

export function sha256Hex(value: string): string {
  return createHash('sha256').update(value).digest('hex');
}
