// Turns a failed API call into one sentence a person can act on.
import { TRPCClientError } from '@trpc/client';

export const UNREACHABLE = "Nook's server can't be reached. Check that it is running, then try again.";

export function describeError(error: unknown): string {
  // A tRPC error with data came from the server itself; anything else never got a proper answer.
  if (error instanceof TRPCClientError && error.data) return error.message;
  return UNREACHABLE;
}

export function isNotFound(error: unknown): boolean {
  return error instanceof TRPCClientError && error.data?.code === 'NOT_FOUND';
}
