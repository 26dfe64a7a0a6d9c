// The sign-in back-off on its own clock: parallel attempts, the three counters, bounds in time and memory.
import { describe, expect, it } from 'vitest';
import { NookError } from '../errors';
import { LoginThrottle, addressKey } from './login-throttle';

function clock() {
  let now = 1_000_000;
  return { now: () => now, advance: (ms: number) => (now += ms) };
}

function refusal(run: () => unknown): NookError {
  try {
    run();
  } catch (error) {
    if (error instanceof NookError) return error;
    throw error;
  }
  throw new Error('the attempt was not refused');
}

describe('LoginThrottle', () => {
  it('counts attempts when they start: parallel guesses lock as sequential ones do', () => {
    const time = clock();
    const throttle = new LoginThrottle(time.now);
    const started = Array.from({ length: 5 }, () => throttle.attempt('alice', '10.0.0.1'));
    const sixth = refusal(() => throttle.attempt('alice', '10.0.0.1'));
    expect(sixth).toMatchObject({ code: 'TOO_MANY_REQUESTS' });
    expect(sixth.retryAfterSeconds).toBeGreaterThan(0);

    const locked = started.map((attempt) => attempt.fail());
    expect(locked).toEqual([false, false, false, false, true]);
    expect(refusal(() => throttle.attempt('alice', '10.0.0.1')).retryAfterSeconds).toBe(2);
    // A settled attempt cannot be settled again.
    expect(started[0]!.fail()).toBe(false);

    time.advance(2001);
    throttle.attempt('alice', '10.0.0.1').fail();
    expect(refusal(() => throttle.attempt('alice', '10.0.0.1')).retryAfterSeconds).toBe(4);
  });

  it('gives back an attempt that succeeded or was never checked', () => {
    const throttle = new LoginThrottle(clock().now);
    for (let i = 0; i < 4; i++) throttle.attempt('bob', '10.0.0.2').fail();
    // One more may run; while it does, it might be the fifth failure, so a second waits.
    const checking = throttle.attempt('bob', '10.0.0.2');
    expect(() => throttle.attempt('bob', '10.0.0.2')).toThrow(NookError);
    checking.cancel();
    throttle.attempt('bob', '10.0.0.2').succeed();
    for (let i = 0; i < 4; i++) throttle.attempt('bob', '10.0.0.2').fail();
    expect(() => throttle.attempt('bob', '10.0.0.2')).not.toThrow();
  });

  it('limits one address across accounts, and signing in to its own account does not reset that', () => {
    const throttle = new LoginThrottle(clock().now);
    for (let i = 0; i < 19; i++) {
      throttle.attempt(`victim${i}`, '10.0.0.3').fail();
      if (i % 4 === 0) throttle.attempt('me', '10.0.0.3').succeed();
    }
    throttle.attempt('victim19', '10.0.0.3').fail();
    expect(refusal(() => throttle.attempt('anyone', '10.0.0.3'))).toMatchObject({
      code: 'TOO_MANY_REQUESTS',
    });
    expect(() => throttle.attempt('anyone', '10.0.0.4')).not.toThrow();
  });

  it('bounds what failures from many addresses do to an account: never from home, at most 5 min elsewhere', () => {
    const time = clock();
    const throttle = new LoginThrottle(time.now);
    throttle.attempt('owner', '192.168.1.10').succeed();
    let longest = 0;
    for (let hour = 0; hour < 24; hour++) {
      for (let i = 0; i < 100; i++) {
        const attacker = `203.0.${hour}.${i}`;
        try {
          throttle.attempt('owner', attacker).fail();
        } catch (error) {
          longest = Math.max(longest, (error as NookError).retryAfterSeconds ?? 0);
        }
        // The owner, at home, is never kept out by them.
        expect(() => throttle.attempt('owner', '192.168.1.10').cancel()).not.toThrow();
      }
      time.advance(60 * 60 * 1000);
    }
    expect(longest).toBeGreaterThan(0);
    expect(longest).toBeLessThanOrEqual(5 * 60);
    throttle.attempt('owner', '203.0.200.1').fail();
    // From a new address the owner waits out one delay at most, then is let in.
    const away = refusal(() => throttle.attempt('owner', '198.51.100.7'));
    expect(away.retryAfterSeconds).toBeLessThanOrEqual(5 * 60);
    time.advance(away.retryAfterSeconds! * 1000);
    expect(() => throttle.attempt('owner', '198.51.100.7').succeed()).not.toThrow();
  });

  it('keeps its memory bounded under a flood of addresses and names', () => {
    const throttle = new LoginThrottle(clock().now);
    for (let i = 0; i < 30_000; i++) {
      try {
        throttle.attempt(`user${i}`, `10.${(i >> 16) & 255}.${(i >> 8) & 255}.${i & 255}`).fail();
      } catch {
        // a locked account or address: refused, as it should be
      }
    }
    const { records } = throttle as unknown as { records: Map<string, unknown> };
    expect(records.size).toBeLessThanOrEqual(10_000);
  });

  it('treats an IPv6 /64 as one address', () => {
    expect(addressKey('2001:db8:1:2:a::1')).toBe(addressKey('2001:0db8:0001:0002:ffff:1:2:3'));
    expect(addressKey('2001:db8:1:2::1')).not.toBe(addressKey('2001:db8:1:3::1'));
    expect(addressKey('::ffff:192.0.2.1')).toBe('192.0.2.1');
    expect(addressKey('192.0.2.1')).toBe('192.0.2.1');
  });
});
