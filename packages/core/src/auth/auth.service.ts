// Signing in and out: password checks, server-side sessions, and API tokens.
import type { EntityManager } from '@mikro-orm/sqlite';
import { AuditService } from '../audit/audit.service';
import { isAdministrator } from './access';
import { NookError } from '../errors';
import type { ReadDb } from '../sql/read-db';
import { cleanName } from '../names';
import { checkPassword, revokeCredentials } from '../users/user.service';
import { User, type UserRole } from '../users/user.entity';
import { ApiToken, type TokenScope } from './api-token.entity';
import type { LoginThrottle } from './login-throttle';
import { decoyPasswordHash, hashPassword, randomSecret, sha256Hex, verifyPassword } from './secrets';
import { Session } from './session.entity';

export const SESSION_LIFETIME_MS = 30 * 24 * 60 * 60 * 1000;
/** Activity older than this is written back; more often would make every request a write. */
const TOUCH_INTERVAL_MS = 60 * 1000;
export const API_TOKEN_PREFIX = 'nook_';

export interface ClientInfo {
  ip: string;
  userAgent: string;
}

export interface SignedIn {
  user: User;
  session: Session;
  /** The cookie's value; only its hash is stored. */
  token: string;
}

export interface Authenticated {
  user: User;
  session?: Session;
  apiToken?: ApiToken;
}

/**
 * Until when the same credential authenticates as this without writing anything: a session's expiry
 * and its next "last seen" touch, a token's next "last used" touch. Revoking either is a commit.
 */
export function authStandsUntil(auth: Authenticated): number {
  if (auth.session)
    return Math.min(auth.session.expiresAt.getTime(), auth.session.lastSeenAt.getTime() + TOUCH_INTERVAL_MS);
  return (auth.apiToken?.lastUsedAt?.getTime() ?? 0) + TOUCH_INTERVAL_MS;
}

/** A session and its user as one row; times in milliseconds. */
interface SessionRow {
  id: string;
  userAgent: string;
  ip: string;
  createdAt: number;
  lastSeenAt: number;
  expiresAt: number;
  revokedAt: number | null;
  userId: string;
  username: string;
  displayName: string;
  role: UserRole;
  passwordHash: string | null;
  quotaBytes: number | null;
  userCreatedAt: number;
}

export class AuthService {
  private readonly audit: AuditService;

  constructor(
    private readonly em: EntityManager,
    private readonly throttle: LoginThrottle,
  ) {
    this.audit = new AuditService(em);
  }

  async startSession(user: User, client: ClientInfo): Promise<SignedIn> {
    const token = randomSecret();
    const session = this.em.create(Session, {
      id: sha256Hex(token),
      user,
      ip: client.ip.slice(0, 64),
      userAgent: client.userAgent.slice(0, 512),
      expiresAt: new Date(Date.now() + SESSION_LIFETIME_MS),
    });
    await this.em.flush();
    return { user, session, token };
  }

  async login(username: string, password: string, client: ClientInfo): Promise<SignedIn> {
    // Counted before the first await: parallel or batched guesses meet the limit as sequential ones do.
    const attempt = this.throttle.attempt(username, client.ip);
    let user: User | null;
    let valid: boolean;
    try {
      user = await this.em.findOne(User, { username: username.toLowerCase() });
      valid = await verifyPassword(password, user?.passwordHash ?? (await decoyPasswordHash()));
    } catch (error) {
      attempt.cancel();
      throw error;
    }
    if (!user || !user.passwordHash || !valid) {
      const locked = attempt.fail();
      await this.audit.record(locked ? 'login_locked' : 'login_failed', {
        subject: username.slice(0, 128),
        ip: client.ip,
      });
      throw new NookError('UNAUTHORIZED', 'wrong username or password');
    }
    attempt.succeed();
    await this.audit.record('login', {
      actorId: user.id,
      subject: user.username,
      ip: client.ip,
      detail: client.userAgent,
    });
    return this.startSession(user, client);
  }

  /** The session behind a cookie, if it is live; its last-seen time moves forward. */
  async authenticateSession(token: string): Promise<Authenticated | null> {
    if (!token || token.length > 128) return null;
    const session = await this.em.findOne(Session, { id: sha256Hex(token) }, { populate: ['user'] });
    const now = Date.now();
    if (!session || session.revokedAt || session.expiresAt.getTime() <= now) return null;
    if (now - session.lastSeenAt.getTime() > TOUCH_INTERVAL_MS) {
      session.lastSeenAt = new Date(now);
      session.expiresAt = new Date(now + SESSION_LIFETIME_MS);
      await this.em.flush();
    }
    return { user: session.user.getEntity(), session };
  }

  /**
   * The same answer as authenticateSession, read on the read-only connection: a prepared statement
   * instead of an ORM query on the shared connection, and the two entities made from the row. Always
   * current — a revocation by any process is seen at the next request. When last-seen is due to
   * move, the ORM path does it.
   */
  async authenticateSessionFast(db: ReadDb, token: string): Promise<Authenticated | null> {
    if (!token || token.length > 128) return null;
    const row = db.get<SessionRow>(
      `select s.id as id, s.user_agent as userAgent, s.ip as ip, s.created_at as createdAt,
              s.last_seen_at as lastSeenAt, s.expires_at as expiresAt, s.revoked_at as revokedAt,
              u.id as userId, u.username as username, u.display_name as displayName, u.role as role,
              u.password_hash as passwordHash, u.quota_bytes as quotaBytes, u.created_at as userCreatedAt
         from sessions s join users u on u.id = s.user_id where s.id = ?`,
      [sha256Hex(token)],
    );
    const now = Date.now();
    if (!row || row.revokedAt !== null || row.expiresAt <= now) return null;
    if (now - row.lastSeenAt > TOUCH_INTERVAL_MS) return this.authenticateSession(token);
    const user = this.em.merge(User, {
      id: row.userId,
      username: row.username,
      displayName: row.displayName,
      role: row.role,
      passwordHash: row.passwordHash,
      quotaBytes: row.quotaBytes,
      createdAt: new Date(row.userCreatedAt),
    });
    const session = this.em.merge(Session, {
      id: row.id,
      user,
      userAgent: row.userAgent,
      ip: row.ip,
      createdAt: new Date(row.createdAt),
      lastSeenAt: new Date(row.lastSeenAt),
      expiresAt: new Date(row.expiresAt),
      revokedAt: null,
    });
    return { user, session };
  }

  async authenticateToken(secret: string): Promise<Authenticated | null> {
    if (!secret.startsWith(API_TOKEN_PREFIX) || secret.length > 128) return null;
    const apiToken = await this.em.findOne(
      ApiToken,
      { tokenHash: sha256Hex(secret) },
      { populate: ['user'] },
    );
    if (!apiToken || apiToken.revokedAt) return null;
    const now = Date.now();
    if (!apiToken.lastUsedAt || now - apiToken.lastUsedAt.getTime() > TOUCH_INTERVAL_MS) {
      apiToken.lastUsedAt = new Date(now);
      await this.em.flush();
    }
    return { user: apiToken.user.getEntity(), apiToken };
  }

  async logout(session: Session, client: ClientInfo): Promise<void> {
    session.revokedAt = new Date();
    await this.em.flush();
    await this.audit.record('logout', {
      actorId: session.user.id,
      subject: session.user.getEntity().username,
      ip: client.ip,
    });
  }

  /** Every session and every API token of the user ends: "everywhere" includes the CLI and scripts. */
  async logoutEverywhere(user: User, client: ClientInfo): Promise<number> {
    const { sessions, tokens } = await revokeCredentials(this.em, user);
    await this.audit.record('logout_everywhere', {
      actorId: user.id,
      subject: user.username,
      ip: client.ip,
      detail: `${sessions} sessions, ${tokens} API tokens`,
    });
    return sessions;
  }

  async listSessions(user: User): Promise<Session[]> {
    return this.em.find(
      Session,
      { user, revokedAt: null, expiresAt: { $gt: new Date() } },
      { orderBy: { lastSeenAt: 'desc' } },
    );
  }

  async revokeSession(user: User, sessionId: string, client: ClientInfo): Promise<void> {
    const session = await this.em.findOne(Session, { id: sessionId, user, revokedAt: null });
    if (!session) throw new NookError('NOT_FOUND', 'session not found');
    session.revokedAt = new Date();
    await this.em.flush();
    await this.audit.record('session_revoked', { actorId: user.id, subject: user.username, ip: client.ip });
  }

  /** Changes the password, signs out every other session and ends every API token. */
  async changePassword(
    user: User,
    current: string,
    next: string,
    keep: Session | undefined,
    client: ClientInfo,
  ): Promise<void> {
    // Whoever holds a session may guess at the password it would take to lock the owner out: the
    // same back-off as signing in, counted before the first await.
    const attempt = this.throttle.attempt(user.username, client.ip);
    let valid: boolean;
    try {
      valid = user.passwordHash !== null && (await verifyPassword(current, user.passwordHash));
    } catch (error) {
      attempt.cancel();
      throw error;
    }
    if (!valid) {
      attempt.fail();
      throw new NookError('BAD_REQUEST', 'the current password is wrong');
    }
    attempt.succeed();
    checkPassword(next);
    user.passwordHash = await hashPassword(next);
    await this.em.flush();
    const { sessions, tokens } = await revokeCredentials(this.em, user, keep);
    await this.audit.record('password_changed', {
      actorId: user.id,
      subject: user.username,
      ip: client.ip,
      detail: `${sessions} other sessions, ${tokens} API tokens ended`,
    });
  }

  /** Returns the secret once; only its hash is kept. */
  async createToken(
    user: User,
    name: string,
    scopes: TokenScope[],
    client: ClientInfo,
  ): Promise<{ token: string; apiToken: ApiToken }> {
    if (scopes.includes('admin') && !isAdministrator(user))
      throw new NookError('FORBIDDEN', 'only administrators can create admin tokens');
    const cleaned = cleanName(name).slice(0, 100);
    if (!cleaned) throw new NookError('BAD_REQUEST', 'a token needs a name');
    const token = API_TOKEN_PREFIX + randomSecret();
    const apiToken = this.em.create(ApiToken, {
      user,
      name: cleaned,
      tokenHash: sha256Hex(token),
      prefix: token.slice(0, API_TOKEN_PREFIX.length + 4),
      scopes: [...new Set(scopes)],
    });
    await this.em.flush();
    await this.audit.record('token_created', {
      actorId: user.id,
      subject: user.username,
      ip: client.ip,
      detail: `${apiToken.name} [${apiToken.scopes.join(',')}]`,
    });
    return { token, apiToken };
  }

  async listTokens(user: User): Promise<ApiToken[]> {
    return this.em.find(ApiToken, { user, revokedAt: null }, { orderBy: { createdAt: 'desc' } });
  }

  async revokeToken(user: User, id: string, client: ClientInfo): Promise<void> {
    const apiToken = await this.em.findOne(ApiToken, { id, user, revokedAt: null });
    if (!apiToken) throw new NookError('NOT_FOUND', 'token not found');
    apiToken.revokedAt = new Date();
    await this.em.flush();
    await this.audit.record('token_revoked', {
      actorId: user.id,
      subject: user.username,
      ip: client.ip,
      detail: apiToken.name,
    });
  }
}
