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
  type ProcessingCounts,
  type UserChanges,
} from './users/user.service';
export { checkSetupOrigin, isHouseholdHost, type SetupRequest } from './users/setup-origin';
export { cleanName, nameInput } from './names';
export { NookError, httpStatusOf, type NookErrorCode } from './errors';
export {
  AuthService,
  authStandsUntil,
  API_TOKEN_PREFIX,
  SESSION_LIFETIME_MS,
  type Authenticated,
  type ClientInfo,
  type SignedIn,
} from './auth/auth.service';
export { LoginThrottle } from './auth/login-throttle';
export { authorize, isAdministrator, mayReach, ownerScope, type Action, type Owned } from './auth/access';
export { Session } from './auth/session.entity';
export { ApiToken, tokenScopes, type TokenScope } from './auth/api-token.entity';
export { AuditService, CLI_ACTOR, type Actor } from './audit/audit.service';
export { AuditEvent, auditEventTypes, type AuditEventType } from './audit/audit-event.entity';
export { Share } from './shares/share.entity';
export { ShareService, type NewShare } from './shares/share.service';
export { ServerSecret } from './storage/server-secret';
export {
  Library,
  watchModes,
  type LibraryType,
  type ScanStats,
  type WatchMode,
  type WatchingWith,
} from './libraries/library.entity';
export {
  LibraryService,
  explainWatchMode,
  type LibraryCounts,
  type RootInspection,
  type LibrarySettings,
  type NewLibrary,
} from './libraries/library.service';
export { libraryRootRefusal, libraryRootsHint, type RootRefusal } from './libraries/library-roots';
export {
  LibraryIndexer,
  type FileOutcome,
  type ReconcileOptions,
  type RootState,
} from './ingest/library-indexer';
export { createPathFilter, defaultExclusions, type PathFilter } from './ingest/exclusions';
export { detectFilesystem, filesystemOf, isNetworkFilesystem, parseMountInfo } from './ingest/mountinfo';
export { hashFile, type FileDigest } from './ingest/hash';
export { walkLibrary, type WalkedFile, type WalkResult } from './ingest/walk';
export { Asset, type AssetKind, type AssetStatus, type TakenAtSource } from './assets/asset.entity';
export { AssetService, type AssetMetadata, type UploadResult } from './assets/asset.service';
export { recoverPlacements } from './assets/placement';
export {
  LibraryReads,
  encodeCursor,
  decodeCursor,
  type AssetView,
  type TimelineQuery,
  type SummaryPage,
} from './assets/library-reads';
export type { AssetSummaryRow } from './sql/hot-reads';
export { ReadDb, VersionedCache } from './sql/read-db';
export { detectMediaType, kindOf } from './assets/media-type';
export { resolveOriginalPath } from './assets/original-path';
export { DataDir, type DerivedVariant } from './storage/data-dir';
export { receiveToTemp, TooLargeError, type ReceivedFile } from './storage/receive';
export { persistStored } from './storage/durable';
export { uploadReservations, type QuotaMessage, type QuotaReservation } from './storage/quota';
export {
  JobQueue,
  type JobContext,
  type JobHandler,
  type JobQueueOptions,
  type QueueConnection,
  type QueueStats,
  type RecoveredJobs,
} from './queue/job-queue';
export { recoveryKeys, type RecoveryCounts, type RecoveryEntry } from './queue/queue-state';
export {
  isPermanentError,
  jobPayloads,
  mediaQueueNames,
  queueNames,
  queuePolicies,
  type JobPayload,
  type MediaQueueName,
  type QueueName,
} from './queue/jobs';
export { requeueStuckAssets } from './recovery/stuck-assets';
export { recordRecovery } from './recovery/report';
export {
  EmbeddedPostgres,
  EmbeddedPostgresError,
  findRunningEmbeddedPostgres,
} from './queue/embedded-postgres';
export { TrashService, type TrashPage } from './assets/trash.service';
export { type TimelineFilters } from './assets/timeline';
export { Album } from './albums/album.entity';
export { AlbumService, type AlbumSummary } from './albums/album.service';
export { FolderService, normaliseFolder, type FolderListing } from './folders/folder.service';
export { SearchService } from './search/search.service';
export { StatsService, StatsCache, STATS_MAX_AGE_MS, type DiskUsage } from './stats/stats.service';
export { BackupSchedule, defaultInclude, type BackupInclude } from './backups/backup-schedule.entity';
export {
  BackupRun,
  type BackupFileError,
  type BackupProgress,
  type BackupRunKind,
  type BackupRunStatus,
} from './backups/backup-run.entity';
export {
  BackupService,
  type BackupFreshness,
  type BackupSettings,
  type NewBackupSchedule,
  type SavedSchedule,
} from './backups/backup.service';
export { isTimeZone, longestIntervalMs, nextRuns, validateCron } from './backups/cron';
export { TargetError, checkTarget, targetLayout } from './backups/target';
export { BackupRunner, snapshotName, type RunOptions } from './backups/runner';
export { verifyTarget, type VerifyReport } from './backups/verify';
export { listSnapshots, restoreBackup, type RestoreReport } from './backups/restore';
export type { Manifest } from './backups/manifest';
export { runDoctor, type CheckStatus, type DoctorCheck, type DoctorOptions } from './doctor/doctor';
