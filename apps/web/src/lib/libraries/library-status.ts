// One line that says how a library stands, for its badge: offline beats scanning beats watching.
import type { LibraryStatusDto } from '$lib/api-types';

export type LibraryState = 'offline' | 'scanning' | 'watching' | 'rescans-only' | 'waiting';

export function libraryState(status: LibraryStatusDto): LibraryState {
  if (!status.online) return 'offline';
  if (status.scanning) return 'scanning';
  if (status.watchingWith) return 'watching';
  if (status.watchMode === 'off') return 'rescans-only';
  return 'waiting';
}

export function stateLabel(status: LibraryStatusDto): string {
  switch (libraryState(status)) {
    case 'offline':
      return 'Offline';
    case 'scanning':
      return 'Scanning';
    case 'watching':
      return status.watchingWith === 'poll' ? 'Watching (polling)' : 'Watching (events)';
    case 'rescans-only':
      return 'Rescans only';
    case 'waiting':
      return 'Waiting for first scan';
  }
}
