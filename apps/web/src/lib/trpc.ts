// The one typed tRPC client of the dashboard; calls made in the same tick share one HTTP request.
import { createTRPCClient, httpBatchLink } from '@trpc/client';
import type { AppRouter } from '@nook/api';

export const trpc = createTRPCClient<AppRouter>({
  // Batched queries travel in the URL; past this length they are split so no proxy refuses them.
  links: [httpBatchLink({ url: '/trpc', maxURLLength: 2000 })],
});

export type TrpcClient = typeof trpc;
