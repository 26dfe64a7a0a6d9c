// auth.*: first-run setup, signing in and out, sessions, password and API tokens.
import {
  AuthService,
  PASSWORD_MAX,
  UserService,
  checkSetupOrigin,
  nameInput,
  tokenScopes,
  type Actor,
  type ApiToken,
  type Session,
  type User,
} from '@nook/core';
import { z } from 'zod';
import type { Context } from '../context';
import { protectedProcedure, publicProcedure, router, sessionProcedure } from '../trpc';

/** Who is acting, for the services that record what they change in the audit log. */
export function actorOf(ctx: Pick<Context, 'client'> & { user?: User | null }): Actor {
  return { userId: ctx.user?.id ?? null, ip: ctx.client.ip };
}

export function toUserDto(user: User) {
  return {
    id: user.id,
    username: user.username,
    displayName: user.displayName,
    role: user.role,
    quotaBytes: user.quotaBytes,
    createdAt: user.createdAt.toISOString(),
  };
}

function toSessionDto(session: Session, current: Session | undefined) {
  return {
    id: session.id,
    userAgent: session.userAgent,
    ip: session.ip,
    createdAt: session.createdAt.toISOString(),
    lastSeenAt: session.lastSeenAt.toISOString(),
    current: session.id === current?.id,
  };
}

function toTokenDto(token: ApiToken) {
  return {
    id: token.id,
    name: token.name,
    prefix: token.prefix,
    scopes: token.scopes,
    createdAt: token.createdAt.toISOString(),
    lastUsedAt: token.lastUsedAt?.toISOString() ?? null,
  };
}

const username = z.string().trim().toLowerCase().min(1).max(64);
const password = z.string().min(1).max(PASSWORD_MAX);
/** A display name may be left empty: the username stands in for it. */
export const displayName = nameInput(128, 0);

export const authRouter = router({
  /** What the login page needs to know: is setup open, and who is signed in. */
  status: publicProcedure.query(async ({ ctx }) => ({
    needsSetup: await new UserService(ctx.em).needsSetup(),
    user: ctx.auth ? toUserDto(ctx.auth.user) : null,
  })),

  setup: publicProcedure
    .input(z.object({ username, displayName: displayName.optional(), password }))
    .mutation(async ({ ctx, input }) => {
      checkSetupOrigin(ctx.origin, ctx.publicHosts);
      const user = await new UserService(ctx.em).setUp(input, actorOf(ctx));
      const signedIn = await new AuthService(ctx.em, ctx.throttle).startSession(user, ctx.client);
      ctx.sessionCookie.set(signedIn.token);
      return toUserDto(user);
    }),

  login: publicProcedure.input(z.object({ username, password })).mutation(async ({ ctx, input }) => {
    const signedIn = await new AuthService(ctx.em, ctx.throttle).login(
      input.username,
      input.password,
      ctx.client,
    );
    ctx.sessionCookie.set(signedIn.token);
    return toUserDto(signedIn.user);
  }),

  logout: sessionProcedure.mutation(async ({ ctx }) => {
    await new AuthService(ctx.em, ctx.throttle).logout(ctx.session, ctx.client);
    ctx.sessionCookie.clear();
    return { ok: true };
  }),

  logoutEverywhere: sessionProcedure.mutation(async ({ ctx }) => {
    const revoked = await new AuthService(ctx.em, ctx.throttle).logoutEverywhere(ctx.user, ctx.client);
    ctx.sessionCookie.clear();
    return { revoked };
  }),

  changePassword: sessionProcedure
    .input(z.object({ current: password, next: password }))
    .mutation(async ({ ctx, input }) => {
      await new AuthService(ctx.em, ctx.throttle).changePassword(
        ctx.user,
        input.current,
        input.next,
        ctx.session,
        ctx.client,
      );
      return { ok: true };
    }),

  /** One's own display name; the role, quota and username stay the administrator's to change. */
  updateProfile: sessionProcedure
    .input(z.object({ displayName }))
    .mutation(async ({ ctx, input }) =>
      toUserDto(
        await new UserService(ctx.em).update(ctx.user.id, { displayName: input.displayName }, actorOf(ctx)),
      ),
    ),

  me: protectedProcedure.query(async ({ ctx }) => ({
    ...toUserDto(ctx.user),
    usedBytes: await new UserService(ctx.em).usedBytes(ctx.user.id),
  })),

  sessions: sessionProcedure.query(async ({ ctx }) =>
    (await new AuthService(ctx.em, ctx.throttle).listSessions(ctx.user)).map((s) =>
      toSessionDto(s, ctx.session),
    ),
  ),

  revokeSession: sessionProcedure
    .input(z.object({ id: z.string().length(64) }))
    .mutation(async ({ ctx, input }) => {
      await new AuthService(ctx.em, ctx.throttle).revokeSession(ctx.user, input.id, ctx.client);
      if (input.id === ctx.session.id) ctx.sessionCookie.clear();
      return { ok: true };
    }),

  tokens: sessionProcedure.query(async ({ ctx }) =>
    (await new AuthService(ctx.em, ctx.throttle).listTokens(ctx.user)).map(toTokenDto),
  ),

  createToken: sessionProcedure
    .input(z.object({ name: nameInput(100), scopes: z.array(z.enum(tokenScopes)).min(1) }))
    .mutation(async ({ ctx, input }) => {
      const { token, apiToken } = await new AuthService(ctx.em, ctx.throttle).createToken(
        ctx.user,
        input.name,
        input.scopes,
        ctx.client,
      );
      return { token, ...toTokenDto(apiToken) };
    }),

  revokeToken: sessionProcedure.input(z.object({ id: z.uuid() })).mutation(async ({ ctx, input }) => {
    await new AuthService(ctx.em, ctx.throttle).revokeToken(ctx.user, input.id, ctx.client);
    return { ok: true };
  }),
});
