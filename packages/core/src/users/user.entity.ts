// A person in the household: an admin or a member, signing in with a password.
import { randomUUID } from 'node:crypto';
import { BigIntType, EntitySchema, type Opt } from '@mikro-orm/core';

export type UserRole = 'admin' | 'member';

export class User {
  id: string = randomUUID();
  username!: string;
  displayName!: string;
  role: Opt<UserRole> = 'member';
  /** scrypt hash; null only for the account a pre-accounts Nook created, claimed at first-run setup. */
  passwordHash: string | null = null;
  /** Upload quota in bytes; null means unlimited. */
  quotaBytes: number | null = null;
  createdAt: Opt<Date> = new Date();
}

export const UserSchema = new EntitySchema<User>({
  class: User,
  tableName: 'users',
  properties: {
    id: { type: 'string', length: 36, primary: true },
    username: { type: 'string', length: 64, unique: true },
    displayName: { type: 'string', length: 128 },
    role: { type: 'string', length: 16 },
    passwordHash: { type: 'string', length: 255, nullable: true, hidden: true },
    quotaBytes: { type: new BigIntType('number'), nullable: true },
    createdAt: { type: 'datetime' },
  },
});
