// Password back-off (sign-in, share-link unlocks), after OWASP's Authentication Cheat Sheet: delays
// that double after a few free failures, with a cap, rather than an account lock-out a stranger can
// hold for ever.
//
// Three counters, each with its own threshold:
// - account + address: the owner's own typos, or one address guessing one account;
// - address: one address guessing many accounts;
// - account, from everywhere: many addresses guessing one account. Its delay is shorter, and it
//   never applies to an address that signed in to that account before (the cheat sheet's "device
//   cookie", by address): strangers failing elsewhere cannot keep the owner out from home.
//
// An attempt is counted when it starts, before the password is checked: parallel guesses lock the
// way sequential ones would, and a success gives its attempt back.
import { isIPv6 } from 'node:net';
import { NookError } from '../errors';

interface Limit {
  /** Failures allowed before the first delay. */
  free: number;
  /** The longest delay, however many failures. */
  maxLockSeconds: number;
}

const PAIR: Limit = { free: 5, maxLockSeconds: 15 * 60 };
const ADDRESS: Limit = { free: 20, maxLockSeconds: 15 * 60 };
const ACCOUNT: Limit = { free: 20, maxLockSeconds: 5 * 60 };
/** Failures are forgotten after this long without one. */
const FORGET_AFTER_MS = 60 * 60 * 1000;
/** An address that signed in to an account is exempt from that account's global delay this long. */
const KNOWN_FOR_MS = 30 * 24 * 60 * 60 * 1000;
/** Memory stays bounded whatever an attacker sends: the least recently touched entries go first. */
const MAX_RECORDS = 10_000;
const MAX_KNOWN = 10_000;

interface Record {
  limit: Limit;
  failures: number;
  /** Attempts started and not finished: each may yet be a failure. */
  pending: number;
  lockedUntil: number;
  lastFailure: number;
}

/** One started attempt; exactly one of these settles it (later calls do nothing). */
export interface LoginAttempt {
  /** Returns true when this failure starts a delay. */
  fail(): boolean;
  succeed(): void;
  /** The password was never checked (the check was refused or failed): the attempt is given back. */
  cancel(): void;
}

/**
 * The part of an address one party controls: IPv6 by its /64 (one home or one server gets a whole
 * /64), IPv4 and IPv4-mapped IPv6 as they are.
 */
export function addressKey(ip: string): string {
  if (ip.startsWith('::ffff:') && ip.includes('.')) return ip.slice('::ffff:'.length);
  if (!isIPv6(ip)) return ip;
  const [head = '', tail = ''] = ip.toLowerCase().split('%')[0]!.split('::');
  const left = head ? head.split(':') : [];
  const right = tail ? tail.split(':') : [];
  const groups = ip.includes('::')
    ? [...left, ...Array<string>(8 - left.length - right.length).fill('0'), ...right]
    : left;
  return `${groups
    .slice(0, 4)
    .map((group) => group.replace(/^0+(?=.)/, ''))
    .join(':')}::/64`;
}

function lockSeconds(limit: Limit, failures: number): number {
  return Math.min(limit.maxLockSeconds, 2 ** Math.min(30, failures - limit.free + 1));
}

export class LoginThrottle {
  private readonly records = new Map<string, Record>();
  private readonly known = new Map<string, number>();

  constructor(private readonly now: () => number = Date.now) {}

  /**
   * Starts an attempt on `account` from `ip`, or throws TOO_MANY_REQUESTS while a delay runs — or
   * while attempts already under way would start one if they failed.
   */
  attempt(account: string, ip: string): LoginAttempt {
    const now = this.now();
    const name = account.toLowerCase();
    const address = addressKey(ip);
    const pairKey = `pair:${name}\n${address}`;
    const keys: [string, Limit][] = [
      [pairKey, PAIR],
      [`address:${address}`, ADDRESS],
    ];
    if (!this.isKnown(pairKey, now)) keys.push([`account:${name}`, ACCOUNT]);

    const records = keys.map(([key, limit]) => this.record(key, limit, now));
    let wait = 0;
    for (const record of records) {
      if (record.lockedUntil > now) wait = Math.max(wait, Math.ceil((record.lockedUntil - now) / 1000));
      else if (record.pending > 0 && record.failures + record.pending >= record.limit.free)
        wait = Math.max(wait, lockSeconds(record.limit, record.failures + record.pending));
    }
    if (wait > 0) {
      for (const [key] of keys) this.dropIfIdle(key, now);
      throw new NookError('TOO_MANY_REQUESTS', `too many failed attempts; try again in ${wait} s`, wait);
    }
    for (const record of records) record.pending += 1;

    let settled = false;
    const settle = (outcome: 'fail' | 'succeed' | 'cancel'): boolean => {
      if (settled) return false;
      settled = true;
      const at = this.now();
      let locked = false;
      for (const [key, limit] of keys) {
        // Evicted meanwhile under a flood: the attempt is settled all the same.
        const record = this.records.get(key);
        if (record) record.pending -= 1;
        if (outcome === 'fail') {
          const counted = record ?? this.record(key, limit, at);
          counted.failures += 1;
          counted.lastFailure = at;
          if (counted.failures >= limit.free) {
            counted.lockedUntil = at + lockSeconds(limit, counted.failures) * 1000;
            locked = true;
          }
          this.touch(key, counted);
        } else this.dropIfIdle(key, at);
      }
      if (outcome === 'succeed') {
        // The address keeps its count: signing in to one's own account must not buy more guesses
        // at others'.
        this.records.delete(pairKey);
        this.records.delete(`account:${name}`);
        this.known.delete(pairKey);
        this.known.set(pairKey, at);
        if (this.known.size > MAX_KNOWN) this.known.delete(this.known.keys().next().value!);
      }
      return locked;
    };
    return {
      fail: () => settle('fail'),
      succeed: () => void settle('succeed'),
      cancel: () => void settle('cancel'),
    };
  }

  private isKnown(pairKey: string, now: number): boolean {
    const at = this.known.get(pairKey);
    if (at === undefined) return false;
    if (now - at <= KNOWN_FOR_MS) return true;
    this.known.delete(pairKey);
    return false;
  }

  /** The live record of a key, made anew when it has none or its failures are forgotten. */
  private record(key: string, limit: Limit, now: number): Record {
    let record = this.records.get(key);
    if (!record || (record.pending === 0 && now - record.lastFailure > FORGET_AFTER_MS)) {
      record = { limit, failures: 0, pending: 0, lockedUntil: 0, lastFailure: now };
    }
    this.touch(key, record);
    return record;
  }

  private touch(key: string, record: Record): void {
    this.records.delete(key);
    this.records.set(key, record);
    if (this.records.size > MAX_RECORDS) this.records.delete(this.records.keys().next().value!);
  }

  /** A key with no failure and nothing under way needs no memory. */
  private dropIfIdle(key: string, now: number): void {
    const record = this.records.get(key);
    if (
      record &&
      record.pending === 0 &&
      (record.failures === 0 || now - record.lastFailure > FORGET_AFTER_MS)
    )
      this.records.delete(key);
  }
}
