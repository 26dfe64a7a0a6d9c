// The friendly side of a cron expression: the few schedules people want, written and read back.

export type Frequency = 'hourly' | 'daily' | 'weekly' | 'monthly' | 'custom';

export interface Schedule {
  frequency: Frequency;
  /** Minute past the hour, for hourly. */
  minute: number;
  /** `HH:MM`, for daily, weekly and monthly. */
  time: string;
  /** 0 = Sunday … 6 = Saturday, for weekly. */
  weekday: number;
  /** 1–28, for monthly: later days do not exist in every month. */
  day: number;
  /** The expression itself, for custom. */
  custom: string;
}

export const WEEKDAYS = ['Sunday', 'Monday', 'Tuesday', 'Wednesday', 'Thursday', 'Friday', 'Saturday'];

export const DEFAULT_SCHEDULE: Schedule = {
  frequency: 'daily',
  minute: 0,
  time: '03:00',
  weekday: 0,
  day: 1,
  custom: '30 2 * * *',
};

function clock(time: string): [number, number] {
  const [hour, minute] = time.split(':').map(Number);
  return [hour ?? 0, minute ?? 0];
}

export function toCron(schedule: Schedule): string {
  const [hour, minute] = clock(schedule.time);
  switch (schedule.frequency) {
    case 'hourly':
      return `${schedule.minute} * * * *`;
    case 'daily':
      return `${minute} ${hour} * * *`;
    case 'weekly':
      return `${minute} ${hour} * * ${schedule.weekday}`;
    case 'monthly':
      return `${minute} ${hour} ${schedule.day} * *`;
    case 'custom':
      return schedule.custom.trim();
  }
}

const NUMBER = /^\d+$/;
const pad = (value: number) => String(value).padStart(2, '0');

/** Reads an expression back into the form: a preset when it is one, otherwise custom. */
export function fromCron(cron: string): Schedule {
  const fields = cron.trim().split(/\s+/);
  const custom = { ...DEFAULT_SCHEDULE, frequency: 'custom' as const, custom: cron.trim() };
  if (fields.length !== 5) return custom;
  const [minute, hour, day, month, weekday] = fields as [string, string, string, string, string];
  if (!NUMBER.test(minute) || Number(minute) > 59 || month !== '*') return custom;
  if (hour === '*' && day === '*' && weekday === '*')
    return { ...DEFAULT_SCHEDULE, frequency: 'hourly', minute: Number(minute), custom: cron.trim() };
  if (!NUMBER.test(hour) || Number(hour) > 23) return custom;
  const time = `${pad(Number(hour))}:${pad(Number(minute))}`;
  if (day === '*' && weekday === '*')
    return { ...DEFAULT_SCHEDULE, frequency: 'daily', time, custom: cron.trim() };
  if (day === '*' && NUMBER.test(weekday) && Number(weekday) <= 6)
    return { ...DEFAULT_SCHEDULE, frequency: 'weekly', time, weekday: Number(weekday), custom: cron.trim() };
  if (weekday === '*' && NUMBER.test(day) && Number(day) >= 1 && Number(day) <= 28)
    return { ...DEFAULT_SCHEDULE, frequency: 'monthly', time, day: Number(day), custom: cron.trim() };
  return custom;
}

function ordinal(day: number): string {
  const suffix =
    day % 10 === 1 && day !== 11
      ? 'st'
      : day % 10 === 2 && day !== 12
        ? 'nd'
        : day % 10 === 3 && day !== 13
          ? 'rd'
          : 'th';
  return `${day}${suffix}`;
}

/** "Every day at 03:00", "Every Sunday at 04:30", or the expression itself when it is no preset. */
export function describeCron(cron: string): string {
  const schedule = fromCron(cron);
  switch (schedule.frequency) {
    case 'hourly':
      return schedule.minute === 0 ? 'Every hour, on the hour' : `Every hour at ${pad(schedule.minute)} past`;
    case 'daily':
      return `Every day at ${schedule.time}`;
    case 'weekly':
      return `Every ${WEEKDAYS[schedule.weekday]} at ${schedule.time}`;
    case 'monthly':
      return `Monthly on the ${ordinal(schedule.day)} at ${schedule.time}`;
    case 'custom':
      return `Custom: ${schedule.custom}`;
  }
}
