// Users: creating accounts with their upload library, roles, quotas, and what each one stores.
import { raw, UniqueConstraintViolationException, type EntityManager } from '@mikro-orm/sqlite';
import { Asset } from '../assets/asset.entity';
import { AuditService, type Actor } from '../audit/audit.service';
import { ApiToken } from '../auth/api-token.entity';
import { hashPassword } from '../auth/secrets';
import { Session } from '../auth/session.entity';
import { NookError } from '../errors';
import { Library } from '../libraries/library.entity';
import { cleanName } from '../names';
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

/** An account's files by processing state: what its owner may know of the job queue. */
export interface ProcessingCounts {
  pending: number;
  failed: number;
}

/**
 * Ends every way in a user has but `keep`: sessions and API tokens alike, since a token made by
 * whoever knew the old password would otherwise outlive the change meant to lock them out.
 */
export async function revokeCredentials(
  em: EntityManager,
  user: User,
  keep?: { id: string },
): Promise<{ sessions: number; tokens: number }> {
  const now = new Date();
  const sessions = await em.nativeUpdate(
    Session,
    { user, revokedAt: null, ...(keep && { id: { $ne: keep.id } }) },
    { revokedAt: now },
  );
  const tokens = await em.nativeUpdate(ApiToken, { user, revokedAt: null }, { revokedAt: now });
  return { sessions, tokens };
}

function displayNameOf(raw: string | undefined, username: string): string {
  return cleanName(raw ?? '').slice(0, 128) || username;
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

  /** Creates an account and its uploads library; the actor is who made it, for the audit log. */
  async create(input: NewUser, actor: Actor): Promise<User> {
    this.checkNew(input);
    if (await this.em.count(User, { username: input.username }))
      throw new NookError('CONFLICT', `the username ${input.username} is taken`);
    const passwordHash = await hashPassword(input.password);
    const user = this.em.create(User, {
      username: input.username,
      displayName: displayNameOf(input.displayName, input.username),
      role: input.role,
      passwordHash,
      quotaBytes: input.quotaBytes ?? null,
    });
    this.em.create(Library, {
      name: 'Uploads',
      type: 'upload',
      rootPath: `library/${user.username}`,
      owner: user,
    });
    await this.em.flush();
    await new AuditService(this.em).record('user_created', {
      actorId: actor.userId,
      subject: user.username,
      ip: actor.ip,
      detail: user.role,
    });
    return user;
  }

  private checkNew(input: Pick<NewUser, 'username' | 'password'>): void {
    if (!USERNAME_PATTERN.test(input.username)) {
      throw new NookError(
        'BAD_REQUEST',
        'a username is 2–32 lower-case letters, digits, dots, dashes or underscores',
      );
    }
    checkPassword(input.password);
  }

  /**
   * First-run setup: creates the administrator, or gives a password to the one a Nook from before
   * accounts created, so its uploads stay theirs. Exactly one setup can succeed: it inserts the only
   * row `setup_claim` may hold in the same transaction as the account, so racing setups (parallel
   * requests, the web and the CLI at once, several processes) meet the database's constraint, not a
   * check that all of them passed before any wrote.
   */
  async setUp(input: Omit<NewUser, 'role'>, actor: Actor): Promise<User> {
    if (!(await this.needsSetup())) throw alreadySetUp();
    this.checkNew(input);
    const passwordHash = await hashPassword(input.password);
    try {
      return await this.em.transactional(async (em) => {
        const unclaimed = await em.findOne(
          User,
          { passwordHash: null, role: 'admin' },
          { orderBy: { createdAt: 'asc' } },
        );
        const user =
          unclaimed ??
          em.create(User, {
            username: input.username,
            displayName: displayNameOf(input.displayName, input.username),
            role: 'admin',
            passwordHash,
          });
        if (unclaimed) {
          unclaimed.passwordHash = passwordHash;
          if (cleanName(input.displayName ?? ''))
            unclaimed.displayName = displayNameOf(input.displayName, '');
        } else {
          em.create(Library, {
            name: 'Uploads',
            type: 'upload',
            rootPath: `library/${user.username}`,
            owner: user,
          });
        }
        // The claim goes first, so a losing setup fails on it rather than on a taken username.
        await em.execute('insert into `setup_claim` (`id`, `user_id`, `claimed_at`) values (1, ?, ?)', [
          user.id,
          Date.now(),
        ]);
        await em.flush();
        await new AuditService(em).record('setup', {
          actorId: user.id,
          subject: user.username,
          ip: actor.ip,
        });
        return user;
      });
    } catch (error) {
      if (error instanceof UniqueConstraintViolationException) throw alreadySetUp();
      throw error;
    }
  }

  async list(): Promise<User[]> {
    return this.em.find(User, {}, { orderBy: { createdAt: 'asc' } });
  }

  async get(id: string): Promise<User> {
    const user = await this.em.findOne(User, { id });
    if (!user) throw new NookError('NOT_FOUND', 'user not found');
    return user;
  }

  /**
   * Changes an account (the administrator's edit, or one's own display name). A new password here is
   * a reset by someone else: every session and API token of the account ends with it.
   */
  async update(id: string, changes: UserChanges, actor: Actor): Promise<User> {
    const user = await this.get(id);
    const previousRole = user.role;
    if (changes.role && changes.role !== user.role && user.role === 'admin')
      await this.ensureAnotherAdmin(user);
    if (changes.password !== undefined) checkPassword(changes.password);
    const passwordHash = changes.password === undefined ? null : await hashPassword(changes.password);
    if (changes.displayName !== undefined)
      user.displayName = displayNameOf(changes.displayName, user.username);
    if (changes.role) user.role = changes.role;
    if (changes.quotaBytes !== undefined) user.quotaBytes = changes.quotaBytes;
    if (passwordHash) user.passwordHash = passwordHash;
    await this.em.flush();
    const revoked = passwordHash ? await revokeCredentials(this.em, user) : null;
    const detail = [
      changes.displayName !== undefined && 'display name',
      previousRole !== user.role && `role ${previousRole} → ${user.role}`,
      changes.quotaBytes !== undefined && `quota ${changes.quotaBytes ?? 'none'}`,
      revoked && `password reset; ${revoked.sessions} sessions and ${revoked.tokens} API tokens ended`,
    ]
      .filter(Boolean)
      .join('; ');
    await new AuditService(this.em).record('user_updated', {
      actorId: actor.userId,
      subject: user.username,
      ip: actor.ip,
      detail,
    });
    return user;
  }

  /** Removes the account and its records; files on disk stay for the admin to move or delete. */
  async delete(id: string, actor: Actor): Promise<User> {
    if (id === actor.userId) throw new NookError('BAD_REQUEST', 'you cannot delete your own account');
    const user = await this.get(id);
    if (user.role === 'admin') await this.ensureAnotherAdmin(user);
    await this.em.removeAndFlush(user);
    await new AuditService(this.em).record('user_deleted', {
      actorId: actor.userId,
      subject: user.username,
      ip: actor.ip,
    });
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

  /** The user's own files still waiting to be processed, and those whose processing failed. */
  async processingCounts(userId: string): Promise<ProcessingCounts> {
    const rows = await this.em
      .createQueryBuilder(Asset, 'a')
      .select(['a.status', raw('count(*) as n')])
      .where({ owner: userId, deletedAt: null, purgedAt: null, status: { $in: ['pending', 'failed'] } })
      .groupBy('a.status')
      .execute<{ status: string; n: number }[]>('all');
    const count = (status: string) => Number(rows.find((row) => row.status === status)?.n ?? 0);
    return { pending: count('pending'), failed: count('failed') };
  }
}

function alreadySetUp(): NookError {
  return new NookError('CONFLICT', 'Nook is already set up; sign in instead');
}
