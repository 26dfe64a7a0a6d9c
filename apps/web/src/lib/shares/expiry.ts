// When a new share link stops working, from the choice made in the share dialog.

export type ExpiryChoice = 'never' | '1' | '7' | '30' | 'custom';

export const EXPIRY_CHOICES: { value: ExpiryChoice; label: string }[] = [
  { value: 'never', label: 'Never' },
  { value: '1', label: 'In 1 day' },
  { value: '7', label: 'In 7 days' },
  { value: '30', label: 'In 30 days' },
  { value: 'custom', label: 'On a date…' },
];

const DAY_MS = 24 * 60 * 60 * 1000;

/**
 * The expiry as the API takes it (ISO, or null for never), or the problem with the chosen date. A
 * custom date lasts until the end of that day where the person is, which is what "until Friday" means.
 */
export function expiresAt(
  choice: ExpiryChoice,
  customDate: string,
  now: Date = new Date(),
): { value: string | null } | { problem: string } {
  if (choice === 'never') return { value: null };
  if (choice !== 'custom') return { value: new Date(now.getTime() + Number(choice) * DAY_MS).toISOString() };
  const match = /^(\d{4})-(\d{2})-(\d{2})$/.exec(customDate);
  if (!match) return { problem: 'Pick the last day the link works.' };
  const end = new Date(Number(match[1]), Number(match[2]) - 1, Number(match[3]), 23, 59, 59, 999);
  if (end.getTime() <= now.getTime()) return { problem: 'Pick a day from today on.' };
  return { value: end.toISOString() };
}

/** Today as an `<input type="date">` value, its earliest allowed day. */
export function todayInputValue(now: Date = new Date()): string {
  const pad = (value: number) => String(value).padStart(2, '0');
  return `${now.getFullYear()}-${pad(now.getMonth() + 1)}-${pad(now.getDate())}`;
}
