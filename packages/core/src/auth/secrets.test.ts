// Password hashing waits in a short queue, and a full queue refuses at once instead of piling up.
import { describe, expect, it } from 'vitest';
import { MAX_WAITING_HASHES, hashPassword, verifyPassword } from './secrets';

describe('password hashing queue', () => {
  it('runs one hash at a time, lets a few wait, and refuses the rest with 503 and a wait', async () => {
    const calls = Array.from({ length: 1 + MAX_WAITING_HASHES + 3 }, (_, i) => hashPassword(`password ${i}`));
    const results = await Promise.allSettled(calls);
    const refused = results.filter((result) => result.status === 'rejected');
    expect(refused).toHaveLength(3);
    for (const result of refused)
      expect(result.reason).toMatchObject({
        code: 'SERVICE_UNAVAILABLE',
        retryAfterSeconds: expect.any(Number),
      });
    const first = results[0] as PromiseFulfilledResult<string>;
    // Drained: the queue takes work again, and the hashes it made are sound.
    expect(await verifyPassword('password 0', first.value)).toBe(true);
  });
});
