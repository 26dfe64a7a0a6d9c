// How long a trashed file has left, in whole days as people count them.

const DAY_MS = 24 * 60 * 60 * 1000;

/** Days until `purgeAfter`, rounded up: 0 or less means the next daily clean-up takes it. */
export function daysLeft(purgeAfter: string, now: number = Date.now()): number {
  return Math.ceil((Date.parse(purgeAfter) - now) / DAY_MS);
}
