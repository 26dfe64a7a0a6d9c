// A signed-in browser: revocable, listed with its device and last activity.
import { EntitySchema, type Opt, type Ref } from '@mikro-orm/core';
import type { User } from '../users/user.entity';

export class Session {
  /** SHA-256 of the cookie's token: a copy of the database cannot be replayed as a cookie. */
  id!: string;
  user!: Ref<User>;
  userAgent!: string;
  ip!: string;
  createdAt: Opt<Date> = new Date();
  lastSeenAt: Opt<Date> = new Date();
  expiresAt!: Date;
  revokedAt: Date | null = null;
}

export const SessionSchema = new EntitySchema<Session>({
  class: Session,
  tableName: 'sessions',
  properties: {
    id: { type: 'string', length: 64, primary: true },
    user: { kind: 'm:1', entity: 'User', ref: true, deleteRule: 'cascade' },
    userAgent: { type: 'string', length: 512 },
    ip: { type: 'string', length: 64 },
    createdAt: { type: 'datetime' },
    lastSeenAt: { type: 'datetime' },
    expiresAt: { type: 'datetime' },
    revokedAt: { type: 'datetime', nullable: true },
  },
});
