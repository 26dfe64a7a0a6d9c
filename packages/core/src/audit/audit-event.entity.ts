// One security event (sign-in, failure, token, share, role change), kept for the admin to read.
import { randomUUID } from 'node:crypto';
import { EntitySchema, type Opt } from '@mikro-orm/core';

export const auditEventTypes = [
  'setup',
  'login',
  'login_failed',
  'login_locked',
  'logout',
  'logout_everywhere',
  'session_revoked',
  'password_changed',
  'user_created',
  'user_updated',
  'user_deleted',
  'token_created',
  'token_revoked',
  'share_created',
  'share_revoked',
] as const;
export type AuditEventType = (typeof auditEventTypes)[number];

export class AuditEvent {
  id: string = randomUUID();
  at: Opt<Date> = new Date();
  type!: AuditEventType;
  /** Who acted; null for failures by someone not signed in. */
  actorId: string | null = null;
  /** The account the event is about, by name, so it survives the account's deletion. */
  subject: string | null = null;
  ip: string | null = null;
  detail: string | null = null;
}

export const AuditEventSchema = new EntitySchema<AuditEvent>({
  class: AuditEvent,
  tableName: 'audit_events',
  indexes: [{ name: 'audit_events_at_idx', properties: ['at'] }],
  properties: {
    id: { type: 'string', length: 36, primary: true },
    at: { type: 'datetime' },
    type: { type: 'string', length: 32 },
    actorId: { type: 'string', length: 36, nullable: true },
    subject: { type: 'string', length: 128, nullable: true },
    ip: { type: 'string', length: 64, nullable: true },
    detail: { type: 'string', length: 1024, nullable: true },
  },
});
