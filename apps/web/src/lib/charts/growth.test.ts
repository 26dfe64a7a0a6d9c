import { describe, expect, it } from 'vitest';
import { fillMonths, formatMonth } from './growth';

describe('fillMonths', () => {
  it('fills the months between with zero and keeps a running total across a new year', () => {
    const filled = fillMonths([
      { month: '2024-11', count: 2, bytes: 100 },
      { month: '2025-02', count: 1, bytes: 50 },
    ]);
    expect(filled.map((point) => [point.month, point.bytes, point.totalBytes])).toEqual([
      ['2024-11', 100, 100],
      ['2024-12', 0, 100],
      ['2025-01', 0, 100],
      ['2025-02', 50, 150],
    ]);
  });

  it('draws nothing for no data', () => {
    expect(fillMonths([])).toEqual([]);
  });

  it('names a month the way people say it', () => {
    expect(formatMonth('2025-02')).toBe('Feb 2025');
  });
});
