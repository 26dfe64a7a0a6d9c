// Users: creating accounts with their upload library, roles, quotas, and what each one stores.
import { raw, type EntityManager } from '@mikro-orm/sqlite';
import { Asset } from '../assets/asset.entity';
import { hashPassword } from '../auth/secrets';
import { Session } from '../auth/session.entity';
import { NookError } from '../errors';
import { Library } from '../libraries/library.entity';
import { User, type UserRole } from './user.entity';

/** Usernames name a folder under library/, so they stay lower-case and path-safe. */
export const USERNAME_PATTERN = /^[a-z0-9][a-z0-9._-]{1,31}$/;
export const PASSWORD_MIN = 8;
export const PASSWORD_MAX = 256;

export interface NewUser {
  username: string;
  displayName?: string;
  password: string;
  role: UserRole;
  quotaBytes?: number | null;
}

export interface UserChanges {
  displayName?: string;
  role?: UserRole;
  quotaBytes?: number | null;
  password?: string;
}

export function checkPassword(password: string): void {
  if (password.length < PASSWORD_MIN)
    throw new NookError('BAD_REQUEST', `the password needs at least ${PASSWORD_MIN} characters`);
  if (password.length > PASSWORD_MAX)
    throw new NookError('BAD_REQUEST', `the password may have at most ${PASSWORD_MAX} characters`);
}

export class UserService {
  constructor(private readonly em: EntityManager) {}

  /** True until someone has set a password: the first-run setup is open. */
  async needsSetup(): Promise<boolean> {
    return (await this.em.count(User, { passwordHash: { $ne: null } })) === 0;
  }

  async create(input: NewUser): Promise<User> {
    if (!USERNAME_PATTERN.test(input.username)) {
      throw new NookError(
        'BAD_REQUEST',
        'a username is 2–32 lower-case letters, digits, dots, dashes or underscores',
      );
    }
    checkPassword(input.password);
    if (await this.em.count(User, { username: input.username }))
      throw new NookError('CONFLICT', `the username ${input.username} is taken`);
    const user = this.em.create(User, {
      username: input.username,
      displayName: input.displayName?.trim() || input.username,
      role: input.role,
      passwordHash: await hashPassword(input.password),
      quotaBytes: input.quotaBytes ?? null,
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

  /**
   * First-run setup: creates the administrator, or gives a password to the one a Nook from before
   * accounts created, so its uploads stay theirs.
   */
  async setUp(input: Omit<NewUser, 'role'>): Promise<User> {
    if (!(await this.needsSetup()))
      throw new NookError('CONFLICT', 'Nook is already set up; sign in instead');
    const unclaimed = await this.em.findOne(
      User,
      { passwordHash: null, role: 'admin' },
      { orderBy: { createdAt: 'asc' } },
    );
    if (!unclaimed) return this.create({ ...input, role: 'admin' });
    checkPassword(input.password);
    unclaimed.passwordHash = await hashPassword(input.password);
    if (input.displayName?.trim()) unclaimed.displayName = input.displayName.trim();
    await this.em.flush();
    return unclaimed;
  }

  async list(): Promise<User[]> {
    return this.em.find(User, {}, { orderBy: { createdAt: 'asc' } });
  }

  async get(id: string): Promise<User> {
    const user = await this.em.findOne(User, { id });
    if (!user) throw new NookError('NOT_FOUND', 'user not found');
    return user;
  }

  async update(id: string, changes: UserChanges): Promise<User> {
    const user = await this.get(id);
    if (changes.role && changes.role !== user.role && user.role === 'admin')
      await this.ensureAnotherAdmin(user);
    if (changes.displayName !== undefined) user.displayName = changes.displayName.trim() || user.username;
    if (changes.role) user.role = changes.role;
    if (changes.quotaBytes !== undefined) user.quotaBytes = changes.quotaBytes;
    if (changes.password !== undefined) {
      checkPassword(changes.password);
      user.passwordHash = await hashPassword(changes.password);
      await this.em.nativeUpdate(Session, { user, revokedAt: null }, { revokedAt: new Date() });
    }
    await this.em.flush();
    return user;
  }

  /** Removes the account and its records; files on disk stay for the admin to move or delete. */
  async delete(id: string, actingUserId: string): Promise<User> {
    if (id === actingUserId) throw new NookError('BAD_REQUEST', 'you cannot delete your own account');
    const user = await this.get(id);
    if (user.role === 'admin') await this.ensureAnotherAdmin(user);
    await this.em.removeAndFlush(user);
    return user;
  }

  private async ensureAnotherAdmin(user: User): Promise<void> {
    if ((await this.em.count(User, { role: 'admin', id: { $ne: user.id } })) === 0) {
      throw new NookError('BAD_REQUEST', 'Nook needs at least one administrator');
    }
  }

  async uploadLibraryOf(user: User): Promise<Library> {
    return this.em.findOneOrFail(Library, { owner: user, type: 'upload' });
  }

  /** Bytes of the user's originals that count against a quota (live uploads). */
  async usedBytes(userId: string): Promise<number> {
    const rows = await this.em
      .createQueryBuilder(Asset, 'a')
      .select(raw('sum(a.size) as total'))
      .join('a.library', 'l')
      .where({ owner: userId, deletedAt: null, library: { type: 'upload' } })
      .execute<{ total: number | null }[]>('all');
    return Number(rows[0]?.total ?? 0);
  }
}
