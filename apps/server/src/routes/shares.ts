// Public share links: what a visitor may see of one asset, nothing else, and only while the link lives.
import { NookError, ShareService, resolveOriginalPath, type LoginThrottle, type Share } from '@nook/core';
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import type { ServerDeps } from '../deps';
import { sendDerived, sendOriginal, variantQuery } from '../files';

const tokenParams = {
  type: 'object',
  required: ['token'],
  properties: { token: { type: 'string', pattern: '^[A-Za-z0-9_-]{16,64}$' } },
} as const;

type TokenRequest = FastifyRequest<{ Params: { token: string } }>;

const unlockCookie = (share: Share) => `nook_share_${share.id.slice(0, 8)}`;

export async function shareRoutes(
  app: FastifyInstance,
  deps: Pick<ServerDeps, 'dataDir' | 'secret'> & { throttle: LoginThrottle },
) {
  const { dataDir, secret, throttle } = deps;
  const config = { public: true };

  /** The live share behind the token, refused while its password has not been given in this browser. */
  const openShare = async (request: TokenRequest): Promise<{ share: Share; shares: ShareService }> => {
    const shares = new ShareService(request.em);
    const share = await shares.resolve(request.params.token);
    if (share.passwordHash) {
      const proof = request.cookies[unlockCookie(share)];
      if (!proof || !secret.verify(`share:${share.id}:${share.passwordHash}`, proof)) {
        throw Object.assign(new NookError('UNAUTHORIZED', 'this link is protected by a password'), {
          shareLocked: true,
        });
      }
    }
    return { share, shares };
  };

  const lockedReply = (reply: FastifyReply, error: unknown) => {
    if (error instanceof NookError && (error as { shareLocked?: boolean }).shareLocked) {
      return reply.code(401).send({ error: 'password_required', message: error.message });
    }
    throw error;
  };

  app.get<{ Params: { token: string } }>(
    '/api/shares/:token',
    { config, schema: { params: tokenParams } },
    async (request, reply) => {
      try {
        const { share, shares } = await openShare(request);
        await shares.countView(share);
        const asset = share.asset.getEntity();
        const base = `/api/shares/${request.params.token}`;
        const version = asset.sha256.slice(0, 16);
        const hasImages = asset.status === 'ready' && asset.kind !== 'other';
        return {
          name: asset.name,
          kind: asset.kind,
          mime: asset.mime,
          size: asset.size,
          width: asset.width,
          height: asset.height,
          takenAt: asset.takenAt.toISOString(),
          allowDownload: share.allowDownload,
          expiresAt: share.expiresAt?.toISOString() ?? null,
          thumbnailUrl: hasImages ? `${base}/thumbnail?size=thumb&v=${version}` : null,
          previewUrl: hasImages ? `${base}/thumbnail?size=preview&v=${version}` : null,
          originalUrl: share.allowDownload ? `${base}/original` : null,
        };
      } catch (error) {
        return lockedReply(reply, error);
      }
    },
  );

  app.post<{ Params: { token: string }; Body: { password: string } }>(
    '/api/shares/:token/unlock',
    {
      config,
      schema: {
        params: tokenParams,
        body: {
          type: 'object',
          required: ['password'],
          properties: { password: { type: 'string', minLength: 1, maxLength: 256 } },
        },
      },
    },
    async (request, reply) => {
      const shares = new ShareService(request.em);
      const share = await shares.resolve(request.params.token);
      const key = `share:${share.id}`;
      throttle.check(key, request.ip);
      if (!(await shares.checkPassword(share, request.body.password))) {
        throttle.fail(key, request.ip);
        throw new NookError('UNAUTHORIZED', 'wrong password');
      }
      throttle.succeed(key, request.ip);
      if (share.passwordHash) {
        reply.setCookie(unlockCookie(share), secret.sign(`share:${share.id}:${share.passwordHash}`), {
          path: `/api/shares/${request.params.token}`,
          httpOnly: true,
          sameSite: 'lax',
          secure: request.protocol === 'https',
          maxAge: 7 * 24 * 60 * 60,
        });
      }
      return reply.code(204).send();
    },
  );

  app.get<{ Params: { token: string }; Querystring: { size: 'thumb' | 'preview' } }>(
    '/api/shares/:token/thumbnail',
    { config, schema: { params: tokenParams, querystring: variantQuery } },
    async (request, reply) => {
      try {
        const { share } = await openShare(request);
        return await sendDerived(request, reply, share.asset.getEntity(), dataDir, request.query.size);
      } catch (error) {
        return lockedReply(reply, error);
      }
    },
  );

  app.get<{ Params: { token: string } }>(
    '/api/shares/:token/original',
    { config, schema: { params: tokenParams } },
    async (request, reply) => {
      try {
        const { share } = await openShare(request);
        if (!share.allowDownload) throw new NookError('FORBIDDEN', 'this link does not allow downloads');
        const asset = share.asset.getEntity();
        return await sendOriginal(request, reply, asset, await resolveOriginalPath(dataDir, asset));
      } catch (error) {
        return lockedReply(reply, error);
      }
    },
  );
}
