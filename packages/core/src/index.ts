// @nook/core: configuration, metadata, storage layout, queue and the domain services over them.
export { loadConfig, configSchema, ConfigError, type Config } from './config/config';
export { createLogger, type Logger } from './logging/logger';
export { openDatabase, ormOptions, entities, type MikroORM, type EntityManager } from './db/orm';
export { User, type UserRole } from './users/user.entity';
export { UserService, DEFAULT_USERNAME } from './users/user.service';
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
