// expiresAt: preset lengths, custom dates to the end of the local day, and dates already past.
import { describe, expect, it } from 'vitest';
import { expiresAt, todayInputValue } from './expiry';

describe('expiresAt', () => {
  const now = new Date(2026, 2, 10, 15, 30);

  it('never expires when asked not to', () => {
    expect(expiresAt('never', '', now)).toEqual({ value: null });
  });

  it('counts preset lengths in whole days from now', () => {
    expect(expiresAt('7', '', now)).toEqual({
      value: new Date(now.getTime() + 7 * 86_400_000).toISOString(),
    });
  });

  it('lets a custom date last until the end of that day', () => {
    expect(expiresAt('custom', '2026-03-10', now)).toEqual({
      value: new Date(2026, 2, 10, 23, 59, 59, 999).toISOString(),
    });
  });

  it('refuses a missing or past date', () => {
    expect(expiresAt('custom', '', now)).toHaveProperty('problem');
    expect(expiresAt('custom', '2026-03-09', now)).toHaveProperty('problem');
  });

  it('gives today in the date input format', () => {
    expect(todayInputValue(now)).toBe('2026-03-10');
  });
});
