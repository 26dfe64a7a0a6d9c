// The one typed tRPC client of the dashboard; calls made in the same tick share one HTTP request (auth.* go alone).
import { createTRPCClient, httpBatchLink, httpLink, splitLink, type TRPCLink } from '@trpc/client';
import { observable } from '@trpc/server/observable';
import type { AppRouter } from '@nook/api';

/** Their UNAUTHORIZED means wrong credentials, not a session that ended. */
const SIGN_IN_PROCEDURES = new Set(['auth.login', 'auth.setup']);

const signedOutListeners = new Set<() => void>();

/** Calls `listener` whenever the server answers 401 because the session is gone; returns the unsubscribe. */
export function onSignedOut(listener: () => void): () => void {
  signedOutListeners.add(listener);
  return () => signedOutListeners.delete(listener);
}

// A session revoked from another device shows up as a 401 on whatever call comes next.
const signedOutLink: TRPCLink<AppRouter> =
  () =>
  ({ op, next }) =>
    observable((observer) =>
      next(op).subscribe({
        next: (value) => observer.next(value),
        error: (error) => {
          if (error.data?.httpStatus === 401 && !SIGN_IN_PROCEDURES.has(op.path)) {
            for (const listener of signedOutListeners) listener();
          }
          observer.error(error);
        },
        complete: () => observer.complete(),
      }),
    );

export const trpc = createTRPCClient<AppRouter>({
  links: [
    signedOutLink,
    splitLink({
      // The server takes auth.* calls only one per request (each may check a password).
      condition: (op) => op.path.startsWith('auth.'),
      true: httpLink({ url: '/trpc' }),
      // Batched queries travel in the URL; past this length they are split so no proxy refuses them.
      // The server takes at most 10 calls in one batch.
      false: httpBatchLink({ url: '/trpc', maxURLLength: 2000, maxItems: 10 }),
    }),
  ],
});

export type TrpcClient = typeof trpc;
