// The API's shapes as the dashboard receives them, read off the typed client so they never drift.
import type { TrpcClient } from './trpc';

type Result<T extends (...args: never[]) => Promise<unknown>> = Awaited<ReturnType<T>>;

export type UserDto = NonNullable<Result<TrpcClient['auth']['status']['query']>['user']>;
export type Role = UserDto['role'];
export type Me = Result<TrpcClient['auth']['me']['query']>;
export type SessionDto = Result<TrpcClient['auth']['sessions']['query']>[number];
export type TokenDto = Result<TrpcClient['auth']['tokens']['query']>[number];
export type NewTokenDto = Result<TrpcClient['auth']['createToken']['mutate']>;
export type TokenScope = TokenDto['scopes'][number];
export type ManagedUser = Result<TrpcClient['users']['list']['query']>[number];
export type AuditEventDto = Result<TrpcClient['users']['auditLog']['query']>[number];
export type ShareDto = Result<TrpcClient['shares']['list']['query']>[number];
export type AlbumDto = Result<TrpcClient['albums']['list']['query']>[number];
export type StatsDto = Result<TrpcClient['stats']['summary']['query']>;
export type LibraryDto = Result<TrpcClient['libraries']['list']['query']>[number];
export type LibraryStatusDto = Result<TrpcClient['libraries']['status']['query']>;
export type RootInspectionDto = Result<TrpcClient['libraries']['checkPath']['query']>;
export type FailedAssetDto = Result<TrpcClient['jobs']['failed']['query']>[number];
export type QueueStatsDto = Result<TrpcClient['jobs']['summary']['query']>['queues'];
export type TrashPageDto = Result<TrpcClient['trash']['list']['query']>;
export type TrashedAssetDto = TrashPageDto['items'][number];
export type DuplicateGroupDto = Result<TrpcClient['assets']['duplicates']['query']>['groups'][number];
export type FolderListingDto = Result<TrpcClient['folders']['list']['query']>;
export type BackupScheduleDto = Result<TrpcClient['backups']['list']['query']>[number];
export type BackupRunDto = Result<TrpcClient['backups']['runs']['query']>[number];
