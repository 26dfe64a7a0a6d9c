// A place assets live: a user's uploads under <data>/library/<user>, or a watched folder / NAS share.
import { randomUUID } from 'node:crypto';
import { EntitySchema, type Opt, type Ref } from '@mikro-orm/core';
import type { User } from '../users/user.entity';

export type LibraryType = 'upload' | 'folder';

export class Library {
  id: string = randomUUID();
  name!: string;
  type!: LibraryType;
  /** Absolute for folders; relative to the data dir for uploads, so a restored data dir can move. */
  rootPath!: string;
  owner!: Ref<User>;
  createdAt: Opt<Date> = new Date();
}

export const LibrarySchema = new EntitySchema<Library>({
  class: Library,
  tableName: 'libraries',
  properties: {
    id: { type: 'string', length: 36, primary: true },
    name: { type: 'string', length: 128 },
    type: { type: 'string', length: 16 },
    rootPath: { type: 'string', length: 4096 },
    owner: { kind: 'm:1', entity: 'User', ref: true, deleteRule: 'cascade' },
    createdAt: { type: 'datetime' },
  },
});
