import { describe, expect, it } from 'vitest';
import { daysLeft } from './trash';

describe('daysLeft', () => {
  const now = Date.parse('2026-01-10T12:00:00Z');

  it('counts a part of a day as a day', () => {
    expect(daysLeft('2026-01-11T13:00:00Z', now)).toBe(2);
    expect(daysLeft('2026-02-09T12:00:00Z', now)).toBe(30);
  });

  it('says zero or less once the time has come', () => {
    expect(daysLeft('2026-01-10T12:00:00Z', now)).toBe(0);
    expect(daysLeft('2026-01-01T12:00:00Z', now)).toBeLessThan(0);
  });
});
