import { describe, expect, it } from 'vitest';
import { formatDuration, runLabel, runTone } from './run-status';

describe('run status', () => {
  it('names each outcome and colours failures and bit rot as danger', () => {
    expect(runLabel({ kind: 'backup', status: 'succeeded' })).toBe('Succeeded');
    expect(runLabel({ kind: 'verify', status: 'succeeded' })).toBe('Verified');
    expect(runLabel({ kind: 'backup', status: 'running' })).toBe('Backup running');
    expect(runTone({ status: 'failed', filesCorrupt: 0 })).toBe('danger');
    expect(runTone({ status: 'succeeded', filesCorrupt: 2 })).toBe('danger');
    expect(runTone({ status: 'partial', filesCorrupt: 0 })).toBe('');
  });

  it('reads durations the way people say them', () => {
    expect(formatDuration(4_400)).toBe('4 s');
    expect(formatDuration(125_000)).toBe('2 min 5 s');
    expect(formatDuration(3_780_000)).toBe('1 h 3 min');
  });
});
