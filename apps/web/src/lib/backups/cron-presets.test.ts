import { describe, expect, it } from 'vitest';
import { DEFAULT_SCHEDULE, describeCron, fromCron, toCron } from './cron-presets';

describe('cron presets', () => {
  it('writes each preset as a five-field expression', () => {
    expect(toCron({ ...DEFAULT_SCHEDULE, frequency: 'hourly', minute: 15 })).toBe('15 * * * *');
    expect(toCron({ ...DEFAULT_SCHEDULE, frequency: 'daily', time: '03:30' })).toBe('30 3 * * *');
    expect(toCron({ ...DEFAULT_SCHEDULE, frequency: 'weekly', time: '22:05', weekday: 0 })).toBe(
      '5 22 * * 0',
    );
    expect(toCron({ ...DEFAULT_SCHEDULE, frequency: 'monthly', time: '01:00', day: 15 })).toBe('0 1 15 * *');
    expect(toCron({ ...DEFAULT_SCHEDULE, frequency: 'custom', custom: ' */10 * * * 1-5 ' })).toBe(
      '*/10 * * * 1-5',
    );
  });

  it('reads every preset back as it was written', () => {
    for (const cron of ['15 * * * *', '30 3 * * *', '5 22 * * 0', '0 1 15 * *'])
      expect(toCron(fromCron(cron))).toBe(cron);
  });

  it('keeps anything else as a custom expression', () => {
    for (const cron of ['*/10 * * * *', '0 3 * * 1-5', '0 3 31 * *', '0 3 * 6 *', '0 3 1 * 1', 'nonsense'])
      expect(fromCron(cron)).toMatchObject({ frequency: 'custom', custom: cron });
  });

  it('describes a schedule in words', () => {
    expect(describeCron('0 * * * *')).toBe('Every hour, on the hour');
    expect(describeCron('30 3 * * *')).toBe('Every day at 03:30');
    expect(describeCron('0 4 * * 6')).toBe('Every Saturday at 04:00');
    expect(describeCron('0 1 2 * *')).toBe('Monthly on the 2nd at 01:00');
    expect(describeCron('0 3 * * 1-5')).toBe('Custom: 0 3 * * 1-5');
  });
});
