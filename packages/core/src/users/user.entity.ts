// A person in the household. Accounts (passwords, sessions) arrive with the accounts feature.
import { randomUUID } from 'node:crypto';
import { EntitySchema, type Opt } from '@mikro-orm/core';

export type UserRole = 'admin' | 'member';

export class User {
  id: string = randomUUID();
  username!: string;
  displayName!: string;
  role: Opt<UserRole> = 'member';
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
    createdAt: { type: 'datetime' },
  },
});
