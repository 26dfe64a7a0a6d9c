// A named, scoped credential for the CLI, remote ingest and scripts; shown once, stored hashed.
import { randomUUID } from 'node:crypto';
import { EntitySchema, type Opt, type Ref } from '@mikro-orm/core';
import type { User } from '../users/user.entity';

export const tokenScopes = ['read', 'upload', 'admin'] as const;
export type TokenScope = (typeof tokenScopes)[number];

export class ApiToken {
  id: string = randomUUID();
  user!: Ref<User>;
  name!: string;
  /** SHA-256 of the secret. */
  tokenHash!: string;
  /** The first characters of the secret, so people can tell their tokens apart. */
  prefix!: string;
  scopes!: TokenScope[];
  createdAt: Opt<Date> = new Date();
  lastUsedAt: Date | null = null;
  revokedAt: Date | null = null;
}

export const ApiTokenSchema = new EntitySchema<ApiToken>({
  class: ApiToken,
  tableName: 'api_tokens',
  properties: {
    id: { type: 'string', length: 36, primary: true },
    user: { kind: 'm:1', entity: 'User', ref: true, deleteRule: 'cascade' },
    name: { type: 'string', length: 100 },
    tokenHash: { type: 'string', length: 64, unique: true },
    prefix: { type: 'string', length: 16 },
    scopes: { type: 'json' },
    createdAt: { type: 'datetime' },
    lastUsedAt: { type: 'datetime', nullable: true },
    revokedAt: { type: 'datetime', nullable: true },
  },
});
