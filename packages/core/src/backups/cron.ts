// Cron expressions in a time zone: validated with cron-parser, the parser pg-boss itself schedules with.
import cronParser from 'cron-parser';
import { NookError } from '../errors';

/** True for an IANA zone name the runtime knows (Europe/Berlin, UTC, …). */
export function isTimeZone(zone: string): boolean {
  try {
    new Intl.DateTimeFormat('en', { timeZone: zone });
    return true;
  } catch {
    return false;
  }
}

/**
 * Checks `cron` and `timeZone`, throwing a BAD_REQUEST that says what is wrong. Only five fields:
 * the scheduler ticks once a minute, so a seconds field would promise what it cannot keep.
 */
export function validateCron(cron: string, timeZone: string): void {
  if (!isTimeZone(timeZone)) throw new NookError('BAD_REQUEST', `unknown time zone: ${timeZone}`);
  const fields = cron.trim().split(/\s+/);
  if (fields.length !== 5)
    throw new NookError(
      'BAD_REQUEST',
      `a cron expression has five fields (minute hour day-of-month month day-of-week), got ${fields.length}`,
    );
  try {
    cronParser.parseExpression(cron, { tz: timeZone });
  } catch (error) {
    throw new NookError('BAD_REQUEST', `invalid cron expression: ${(error as Error).message}`);
  }
}

/** The next `count` times `cron` fires after `from`, read in `timeZone`. */
export function nextRuns(cron: string, timeZone: string, count = 5, from = new Date()): Date[] {
  validateCron(cron, timeZone);
  const interval = cronParser.parseExpression(cron, { tz: timeZone, currentDate: from });
  return Array.from({ length: count }, () => interval.next().toDate());
}

/** The longest gap between consecutive runs over the next few: what "twice the interval" is measured in. */
export function longestIntervalMs(cron: string, timeZone: string, from = new Date()): number {
  const runs = nextRuns(cron, timeZone, 8, from);
  let longest = 0;
  for (let i = 1; i < runs.length; i++)
    longest = Math.max(longest, runs[i]!.getTime() - runs[i - 1]!.getTime());
  return longest;
}
