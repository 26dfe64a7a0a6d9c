// Authorization in one place: may this caller do this (to that)? Every tRPC procedure and every HTTP
// route asks here; nothing else compares roles or token scopes.
import { NookError } from '../errors';
import type { User } from '../users/user.entity';
import type { TokenScope } from './api-token.entity';
import type { Authenticated } from './auth.service';

/**
 * What a caller wants to do:
 * - `public`: anyone, signed in or not (health, sign-in, share links).
 * - `read`: look at one's own things.
 * - `write`: change one's own things (albums, favorites, trash, libraries' rescans).
 * - `upload`: add files (the CLI's upload token may, and only that).
 * - `credentials`: manage sign-in itself (password, sessions, tokens, share links): a browser
 *   session only, so a stolen token cannot mint more or outlive its owner's password.
 * - `administer` / `administer.read`: the household's settings (users, folders, backups, audit log).
 */
export type Action =
  'public' | 'read' | 'write' | 'upload' | 'credentials' | 'administer' | 'administer.read';

/** The token scope each action needs when the caller is an API token; `admin` tokens may do everything their user may. */
const scopeFor: Record<Exclude<Action, 'public' | 'credentials'>, TokenScope> = {
  read: 'read',
  write: 'admin',
  upload: 'upload',
  administer: 'admin',
  'administer.read': 'read',
};

/** Something that belongs to an account. */
export interface Owned {
  ownerId: string;
  /**
   * Set for what an administrator manages for the household (a library's settings, a job): they
   * reach everybody's. A person's photos, albums and share links are reached by their owner alone.
   */
  administered?: boolean;
}

/**
 * Throws UNAUTHORIZED (no caller), FORBIDDEN (the role or token cannot do this), or NOT_FOUND (the
 * target belongs to someone else: members never learn that another's ids exist). Returns the caller.
 */
export function authorize(
  caller: Authenticated | null,
  action: 'public',
  target?: Owned,
): Authenticated | null;
export function authorize(caller: Authenticated | null, action: Action, target?: Owned): Authenticated;
export function authorize(
  caller: Authenticated | null,
  action: Action,
  target?: Owned,
): Authenticated | null {
  if (action === 'public') return caller;
  if (!caller) throw new NookError('UNAUTHORIZED', 'sign in first');
  if (action === 'credentials') {
    if (!caller.session)
      throw new NookError('FORBIDDEN', 'this needs a signed-in browser session, not an API token');
  } else if (caller.apiToken) {
    const needed = scopeFor[action];
    const scopes = caller.apiToken.scopes;
    if (!scopes.includes(needed) && !scopes.includes('admin'))
      throw new NookError('FORBIDDEN', `this token lacks the ${needed} scope`);
  }
  if ((action === 'administer' || action === 'administer.read') && !isAdministrator(caller.user))
    throw new NookError('FORBIDDEN', 'only administrators can do this');
  if (target && !mayReach(caller.user, target)) throw new NookError('NOT_FOUND', 'not found');
  return caller;
}

export function isAdministrator(user: User): boolean {
  return user.role === 'admin';
}

/** Whether a user may reach this: their own, or what administrators manage when they are one. */
export function mayReach(user: User, target: Owned): boolean {
  return target.ownerId === user.id || (target.administered === true && isAdministrator(user));
}

/**
 * Whose things a listing covers: the caller's own, or (null) everybody's when an administrator asks
 * for everyone. A member asking for everyone still gets only their own.
 */
export function ownerScope(user: User, everyone: boolean): string | null {
  return everyone && isAdministrator(user) ? null : user.id;
}
