// Audit event types in words, and how serious each one looks in the list.
import { describeUserAgent } from '../auth/user-agent';

const LABELS: Record<string, string> = {
  setup: 'Nook set up',
  login: 'Signed in',
  login_failed: 'Failed sign-in',
  login_locked: 'Sign-ins throttled',
  logout: 'Signed out',
  logout_everywhere: 'Signed out everywhere',
  session_revoked: 'Device signed out',
  password_changed: 'Password changed',
  user_created: 'Account created',
  user_updated: 'Account changed',
  user_deleted: 'Account deleted',
  token_created: 'API token created',
  token_revoked: 'API token revoked',
  share_created: 'Share link created',
  share_revoked: 'Share link revoked',
};

const WARNINGS = new Set(['login_failed', 'login_locked', 'user_deleted']);

/** Types the server adds later still read, as their raw name. */
export function auditLabel(type: string): string {
  return LABELS[type] ?? type.replaceAll('_', ' ');
}

export function isWarning(type: string): boolean {
  return WARNINGS.has(type);
}

/** A sign-in's detail is the browser's whole User-Agent; its short form is what a person reads. */
export function auditDetail(type: string, detail: string | null): string | null {
  if (detail && type === 'login') return describeUserAgent(detail);
  return detail;
}
