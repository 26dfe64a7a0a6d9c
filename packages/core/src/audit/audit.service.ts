// Writing and reading the security audit log.
import type { EntityManager } from '@mikro-orm/sqlite';
import { AuditEvent, type AuditEventType } from './audit-event.entity';

/**
 * Who makes a change and from where, handed to the services that record it: a signed-in user and
 * their address, or the command line on the server itself.
 */
export interface Actor {
  userId: string | null;
  /** The client's address; `cli` for `nook` commands run on the server. */
  ip: string | null;
}

export const CLI_ACTOR: Actor = { userId: null, ip: 'cli' };

export interface AuditEntry {
  actorId?: string | null;
  subject?: string | null;
  ip?: string | null;
  detail?: string | null;
}

export class AuditService {
  constructor(private readonly em: EntityManager) {}

  async record(type: AuditEventType, entry: AuditEntry = {}): Promise<void> {
    this.em.create(AuditEvent, {
      type,
      actorId: entry.actorId ?? null,
      subject: entry.subject ?? null,
      ip: entry.ip ?? null,
      detail: entry.detail?.slice(0, 1024) ?? null,
    });
    await this.em.flush();
  }

  /** Newest first, paged by time. */
  async list(limit: number, before?: Date): Promise<AuditEvent[]> {
    return this.em.find(AuditEvent, before ? { at: { $lt: before } } : {}, {
      orderBy: { at: 'desc', id: 'desc' },
      limit,
    });
  }
}
