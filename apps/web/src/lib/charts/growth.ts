// Growth per month as the chart draws it: every month from the first to the last, gaps filled with zero.

export interface MonthPoint {
  /** `YYYY-MM`. */
  month: string;
  count: number;
  bytes: number;
}

export interface GrowthPoint extends MonthPoint {
  /** Bytes held at the end of this month. */
  totalBytes: number;
}

function next(month: string): string {
  const [year, monthNumber] = month.split('-').map(Number) as [number, number];
  return monthNumber === 12 ? `${year + 1}-01` : `${year}-${String(monthNumber + 1).padStart(2, '0')}`;
}

export function fillMonths(points: readonly MonthPoint[]): GrowthPoint[] {
  if (points.length === 0) return [];
  const byMonth = new Map(points.map((point) => [point.month, point]));
  const sorted = [...byMonth.keys()].sort();
  const last = sorted.at(-1)!;
  const filled: GrowthPoint[] = [];
  let total = 0;
  for (let month = sorted[0]!; ; month = next(month)) {
    const point = byMonth.get(month) ?? { month, count: 0, bytes: 0 };
    total += point.bytes;
    filled.push({ ...point, totalBytes: total });
    if (month === last) break;
  }
  return filled;
}

const monthName = new Intl.DateTimeFormat('en', { month: 'short', year: 'numeric', timeZone: 'UTC' });

export function formatMonth(month: string): string {
  return monthName.format(new Date(`${month}-01T00:00:00Z`));
}
