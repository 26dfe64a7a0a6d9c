// Storage quotas as people type them (gigabytes, empty for none) and as the API keeps them (bytes or null).
import { BYTES_PER_GB } from '../format';

/** The quota in bytes, null for no limit, or the problem with what was typed. */
export function parseQuota(text: string): { bytes: number | null } | { problem: string } {
  const trimmed = text.trim().replace(',', '.');
  if (!trimmed) return { bytes: null };
  const gigabytes = Number(trimmed);
  if (!Number.isFinite(gigabytes) || gigabytes <= 0)
    return { problem: 'Enter a number of GB above 0, or leave it empty.' };
  return { bytes: Math.max(1, Math.round(gigabytes * BYTES_PER_GB)) };
}

/** What the quota field starts with for an existing quota. */
export function quotaInput(bytes: number | null): string {
  if (bytes === null) return '';
  return String(Math.round((bytes / BYTES_PER_GB) * 100) / 100);
}
