// Public share links: what a visitor may see of one asset or album, nothing else, and only while the link lives.
import {
  NookError,
  ShareService,
  resolveOriginalPath,
  type Asset,
  type LoginThrottle,
  type Share,
} from '@nook/core';
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import type { ServerDeps } from '../deps';
import { sendDerived, sendOriginal, variantQuery } from '../files';

const tokenParams = {
  type: 'object',
  required: ['token'],
  properties: { token: { type: 'string', pattern: '^[A-Za-z0-9_-]{16,64}$' } },
} as const;

const itemParams = {
  type: 'object',
  required: ['token', 'id'],
  properties: { ...tokenParams.properties, id: { type: 'string', format: 'uuid' } },
} as const;

type TokenRequest = FastifyRequest<{ Params: { token: string } }>;
type VariantQuery = { Querystring: { size: 'thumb' | 'preview' } };

/** Image URLs carry the content version, so a changed asset never reuses a cached thumbnail. */
function imageUrls(asset: Asset, base: string) {
  const version = asset.sha256.slice(0, 16);
  const hasImages = asset.status === 'ready' && asset.kind !== 'other';
  return {
    thumbnailUrl: hasImages ? `${base}/thumbnail?size=thumb&v=${version}` : null,
    previewUrl: hasImages ? `${base}/thumbnail?size=preview&v=${version}` : null,
  };
}

interface Opened {
  share: Share;
  shares: ShareService;
}

const unlockCookie = (share: Share) => `nook_share_${share.id.slice(0, 8)}`;

export async function shareRoutes(
  app: FastifyInstance,
  /** `throttle` is the unlocks' own: wrong share passwords must not delay anybody's sign-in. */
  deps: Pick<ServerDeps, 'dataDir' | 'secret' | 'accelRedirect'> & { throttle: LoginThrottle },
) {
  const { dataDir, secret, throttle, accelRedirect } = deps;
  const config = { public: true };

  /** The live share behind the token, refused while its password has not been given in this browser. */
  const openShare = async (request: TokenRequest): Promise<Opened> => {
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

  /** Runs a public handler on the opened share, answering 401 with `password_required` while locked. */
  const withShare =
    <R extends TokenRequest>(
      handler: (request: R, reply: FastifyReply, opened: Opened) => Promise<unknown>,
    ) =>
    async (request: R, reply: FastifyReply) => {
      try {
        return await handler(request, reply, await openShare(request));
      } catch (error) {
        return lockedReply(reply, error);
      }
    };

  const sendShared = async (request: FastifyRequest, reply: FastifyReply, share: Share, asset: Asset) => {
    if (!share.allowDownload) throw new NookError('FORBIDDEN', 'this link does not allow downloads');
    return sendOriginal(request, reply, asset, await resolveOriginalPath(dataDir, asset), accelRedirect);
  };

  /** The asset of an asset share; an album share has no single file. */
  const sharedAsset = (share: Share): Asset => {
    const asset = share.asset?.getEntity();
    if (!asset) throw new NookError('NOT_FOUND', 'this link is for an album');
    return asset;
  };

  app.get<{ Params: { token: string } }>(
    '/api/shares/:token',
    { config, schema: { params: tokenParams } },
    withShare(async (request, _reply, { share, shares }) => {
      await shares.countView(share);
      const base = `/api/shares/${request.params.token}`;
      const common = {
        allowDownload: share.allowDownload,
        expiresAt: share.expiresAt?.toISOString() ?? null,
      };
      if (share.album) {
        const items = await shares.albumItems(share);
        return {
          type: 'album' as const,
          name: share.album.getEntity().name,
          count: await shares.countAlbumItems(share),
          ...common,
          items: items.map((asset) => ({
            id: asset.id,
            name: asset.name,
            kind: asset.kind,
            mime: asset.mime,
            width: asset.width,
            height: asset.height,
            takenAt: asset.takenAt.toISOString(),
            ...imageUrls(asset, `${base}/items/${asset.id}`),
            originalUrl: share.allowDownload ? `${base}/items/${asset.id}/original` : null,
          })),
        };
      }
      const asset = sharedAsset(share);
      return {
        type: 'asset' as const,
        name: asset.name,
        kind: asset.kind,
        mime: asset.mime,
        size: asset.size,
        width: asset.width,
        height: asset.height,
        takenAt: asset.takenAt.toISOString(),
        ...common,
        ...imageUrls(asset, base),
        originalUrl: share.allowDownload ? `${base}/original` : null,
      };
    }),
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
      // Counted before the password is checked, so parallel guesses meet the limit too.
      const attempt = throttle.attempt(share.id, request.ip);
      let valid: boolean;
      try {
        valid = await shares.checkPassword(share, request.body.password);
      } catch (error) {
        attempt.cancel();
        throw error;
      }
      if (!valid) {
        attempt.fail();
        throw new NookError('UNAUTHORIZED', 'wrong password');
      }
      attempt.succeed();
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

  app.get<{ Params: { token: string } } & VariantQuery>(
    '/api/shares/:token/thumbnail',
    { config, schema: { params: tokenParams, querystring: variantQuery } },
    withShare((request, reply, { share }) =>
      sendDerived(request, reply, sharedAsset(share), dataDir, request.query.size),
    ),
  );

  app.get<{ Params: { token: string } }>(
    '/api/shares/:token/original',
    { config, schema: { params: tokenParams } },
    withShare((request, reply, { share }) => sendShared(request, reply, share, sharedAsset(share))),
  );

  app.get<{ Params: { token: string; id: string } } & VariantQuery>(
    '/api/shares/:token/items/:id/thumbnail',
    { config, schema: { params: itemParams, querystring: variantQuery } },
    withShare(async (request, reply, { share, shares }) =>
      sendDerived(
        request,
        reply,
        await shares.albumItem(share, request.params.id),
        dataDir,
        request.query.size,
      ),
    ),
  );

  app.get<{ Params: { token: string; id: string } }>(
    '/api/shares/:token/items/:id/original',
    { config, schema: { params: itemParams } },
    withShare(async (request, reply, { share, shares }) =>
      sendShared(request, reply, share, await shares.albumItem(share, request.params.id)),
    ),
  );
}
