// Users and the upload library each one gets.
import type { EntityManager } from '@mikro-orm/sqlite';
import { Library } from '../libraries/library.entity';
import { User } from './user.entity';

export const DEFAULT_USERNAME = 'admin';

export class UserService {
  constructor(private readonly em: EntityManager) {}

  /**
   * Until accounts exist, everything belongs to one household administrator, created on first start
   * together with the library that receives their uploads.
   */
  async ensureDefaultUser(): Promise<User> {
    const existing = await this.em.findOne(User, { username: DEFAULT_USERNAME });
    if (existing) return existing;
    const user = this.em.create(User, {
      username: DEFAULT_USERNAME,
      displayName: 'Administrator',
      role: 'admin',
    });
    this.em.create(Library, {
      name: 'Uploads',
      type: 'upload',
      rootPath: `library/${user.username}`,
      owner: user,
    });
    await this.em.flush();
    return user;
  }

  async uploadLibraryOf(user: User): Promise<Library> {
    return this.em.findOneOrFail(Library, { owner: user, type: 'upload' });
  }
}
