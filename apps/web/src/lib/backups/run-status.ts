// How a backup run ended, in words and as a badge's tone.
import type { BackupRunDto } from '$lib/api-types';

export function runLabel(run: Pick<BackupRunDto, 'status' | 'kind'>): string {
  const verb = run.kind === 'verify' ? 'Verify' : 'Backup';
  const labels: Record<string, string> = {
    running: `${verb} running`,
    succeeded: run.kind === 'verify' ? 'Verified' : 'Succeeded',
    partial: 'Partly done',
    failed: 'Failed',
    interrupted: 'Interrupted',
  };
  return labels[run.status] ?? run.status;
}

export function runTone(run: Pick<BackupRunDto, 'status' | 'filesCorrupt'>): 'accent' | 'danger' | '' {
  if (run.status === 'failed' || run.status === 'interrupted' || run.filesCorrupt > 0) return 'danger';
  if (run.status === 'succeeded' || run.status === 'running') return 'accent';
  return '';
}

/** "2 min 5 s", "45 s", "1 h 3 min". */
export function formatDuration(ms: number): string {
  const seconds = Math.max(0, Math.round(ms / 1000));
  if (seconds < 60) return `${seconds} s`;
  const minutes = Math.floor(seconds / 60);
  if (minutes < 60) return `${minutes} min ${seconds % 60} s`;
  return `${Math.floor(minutes / 60)} h ${minutes % 60} min`;
}
