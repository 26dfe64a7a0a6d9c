// parseQuota and quotaInput: gigabytes typed by the administrator, bytes kept by the server.
import { describe, expect, it } from 'vitest';
import { parseQuota, quotaInput } from './quota';

describe('quotas', () => {
  it('reads gigabytes, with a comma or a point', () => {
    expect(parseQuota('2')).toEqual({ bytes: 2 * 1024 ** 3 });
    expect(parseQuota(' 1,5 ')).toEqual({ bytes: 1.5 * 1024 ** 3 });
  });

  it('takes an empty field as no limit', () => {
    expect(parseQuota('')).toEqual({ bytes: null });
  });

  it('refuses what is not a positive number', () => {
    expect(parseQuota('0')).toHaveProperty('problem');
    expect(parseQuota('lots')).toHaveProperty('problem');
  });

  it('shows a quota back in gigabytes', () => {
    expect(quotaInput(null)).toBe('');
    expect(quotaInput(1.5 * 1024 ** 3)).toBe('1.5');
  });
});
