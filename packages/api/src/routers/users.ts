// users.*: the administrator manages accounts and reads the security audit log.
import { AuditService, PASSWORD_MAX, UserService } from '@nook/core';
import { z } from 'zod';
import { adminProcedure, router } from '../trpc';
import { actorOf, displayName, toUserDto } from './auth';

const quota = z.number().int().positive().max(Number.MAX_SAFE_INTEGER).nullable();

export const usersRouter = router({
  list: adminProcedure.query(async ({ ctx }) => {
    const users = new UserService(ctx.em);
    return Promise.all(
      (await users.list()).map(async (user) => ({
        ...toUserDto(user),
        usedBytes: await users.usedBytes(user.id),
      })),
    );
  }),

  create: adminProcedure
    .input(
      z.object({
        username: z.string().trim().toLowerCase().min(1).max(64),
        displayName: displayName.optional(),
        password: z.string().min(1).max(PASSWORD_MAX),
        role: z.enum(['admin', 'member']).default('member'),
        quotaBytes: quota.optional(),
      }),
    )
    .mutation(async ({ ctx, input }) => toUserDto(await new UserService(ctx.em).create(input, actorOf(ctx)))),

  update: adminProcedure
    .input(
      z.object({
        id: z.uuid(),
        displayName: displayName.optional(),
        role: z.enum(['admin', 'member']).optional(),
        quotaBytes: quota.optional(),
        password: z.string().min(1).max(PASSWORD_MAX).optional(),
      }),
    )
    .mutation(async ({ ctx, input }) => {
      const { id, ...changes } = input;
      return toUserDto(await new UserService(ctx.em).update(id, changes, actorOf(ctx)));
    }),

  delete: adminProcedure.input(z.object({ id: z.uuid() })).mutation(async ({ ctx, input }) => {
    await new UserService(ctx.em).delete(input.id, actorOf(ctx));
    return { ok: true };
  }),

  auditLog: adminProcedure
    .input(
      z.object({ limit: z.number().int().min(1).max(500).default(100), before: z.iso.datetime().optional() }),
    )
    .query(async ({ ctx, input }) =>
      (
        await new AuditService(ctx.em).list(input.limit, input.before ? new Date(input.before) : undefined)
      ).map((event) => ({
        id: event.id,
        at: event.at.toISOString(),
        type: event.type,
        actorId: event.actorId,
        subject: event.subject,
        ip: event.ip,
        detail: event.detail,
      })),
    ),
});
