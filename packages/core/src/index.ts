// @nook/core: configuration, metadata, storage layout, queue and the domain services over them.
export { loadConfig, configSchema, ConfigError, type Config } from './config/config';
export { createLogger, type Logger } from './logging/logger';
export { openDatabase, ormOptions, entities, type MikroORM, type EntityManager } from './db/orm';
export { User, type UserRole } from './users/user.entity';
export {
  UserService,
  USERNAME_PATTERN,
  PASSWORD_MIN,
  PASSWORD_MAX,
  type NewUser,
  type UserChanges,
} from './users/user.service';
export { NookError, httpStatusOf, type NookErrorCode } from './errors';
export {
  AuthService,
  API_TOKEN_PREFIX,
  SESSION_LIFETIME_MS,
  type Authenticated,
  type ClientInfo,
  type SignedIn,
} from './auth/auth.service';
export { LoginThrottle } from './auth/login-throttle';
export { Session } from './auth/session.entity';
export { ApiToken, tokenScopes, type TokenScope } from './auth/api-token.entity';
export { AuditService } from './audit/audit.service';
export { AuditEvent, auditEventTypes, type AuditEventType } from './audit/audit-event.entity';
export { Share } from './shares/share.entity';
export { ShareService, type NewShare } from './shares/share.service';
export { ServerSecret } from './storage/server-secret';
export { Library, type LibraryType } from './libraries/library.entity';
export { Asset, type AssetKind, type AssetStatus } from './assets/asset.entity';
export {
  AssetService,
  InvalidCursorError,
  encodeCursor,
  decodeCursor,
  type AssetPage,
  type UploadResult,
} from './assets/asset.service';
export { detectMediaType, kindOf } from './assets/media-type';
export { resolveOriginalPath } from './assets/original-path';
export { DataDir, type DerivedVariant } from './storage/data-dir';
export { receiveToTemp, TooLargeError, type ReceivedFile } from './storage/receive';
export {
  JobQueue,
  type JobContext,
  type JobHandler,
  type JobQueueOptions,
  type QueueConnection,
} from './queue/job-queue';
export { jobPayloads, queueNames, queuePolicies, type JobPayload, type QueueName } from './queue/jobs';
export {
  EmbeddedPostgres,
  EmbeddedPostgresError,
  findRunningEmbeddedPostgres,
} from './queue/embedded-postgres';
