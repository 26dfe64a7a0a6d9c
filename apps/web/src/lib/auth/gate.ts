// Which page a visitor belongs on for the state of their session; pure so the rules read in one place.
import type { AuthStatus } from './auth.svelte';

export type GateTarget = '/' | '/setup' | '/login';

/** Where to send someone at `pathname`, or null when they may stay. */
export function gateRedirect(status: AuthStatus, pathname: string): GateTarget | null {
  switch (status) {
    case 'needs-setup':
      return pathname === '/setup' ? null : '/setup';
    case 'signed-out':
      return pathname === '/login' ? null : '/login';
    case 'signed-in':
      return pathname === '/setup' || pathname === '/login' ? '/' : null;
    default:
      return null;
  }
}
