// Sign-in back-off: after a few failures for an account or an address, each further try waits longer.
import { NookError } from '../errors';

const FREE_FAILURES = 5;
const MAX_LOCK_SECONDS = 15 * 60;
/** Failures are forgotten after this long without one. */
const FORGET_AFTER_MS = 60 * 60 * 1000;

interface Record {
  failures: number;
  lockedUntil: number;
  lastFailure: number;
}

export class LoginThrottle {
  private readonly records = new Map<string, Record>();

  constructor(private readonly now: () => number = Date.now) {}

  private keys(username: string, ip: string): string[] {
    return [`user:${username.toLowerCase()}`, `ip:${ip}`];
  }

  /** Throws TOO_MANY_REQUESTS while the account or the address is locked. */
  check(username: string, ip: string): void {
    const now = this.now();
    for (const key of this.keys(username, ip)) {
      const record = this.records.get(key);
      if (record && now - record.lastFailure > FORGET_AFTER_MS) this.records.delete(key);
      else if (record && record.lockedUntil > now) {
        const wait = Math.ceil((record.lockedUntil - now) / 1000);
        throw new NookError('TOO_MANY_REQUESTS', `too many failed sign-ins; try again in ${wait} s`, wait);
      }
    }
  }

  /** Returns true when this failure locks the account or the address. */
  fail(username: string, ip: string): boolean {
    const now = this.now();
    let locked = false;
    for (const key of this.keys(username, ip)) {
      const record = this.records.get(key) ?? { failures: 0, lockedUntil: 0, lastFailure: now };
      record.failures += 1;
      record.lastFailure = now;
      if (record.failures >= FREE_FAILURES) {
        const seconds = Math.min(MAX_LOCK_SECONDS, 2 ** (record.failures - FREE_FAILURES + 1));
        record.lockedUntil = now + seconds * 1000;
        locked = true;
      }
      this.records.set(key, record);
    }
    return locked;
  }

  succeed(username: string, ip: string): void {
    this.records.delete(`user:${username.toLowerCase()}`);
    this.records.delete(`ip:${ip}`);
  }
}
