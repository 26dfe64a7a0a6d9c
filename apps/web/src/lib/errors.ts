// Turns a failed API call into one sentence a person can act on.
import { TRPCClientError } from '@trpc/client';

export const UNREACHABLE = "Nook's server can't be reached. Check that it is running, then try again.";

/** The server writes its messages in lower case without a full stop, to be embedded anywhere. */
export function asSentence(message: string): string {
  const text = message.trim();
  if (!text) return text;
  const capitalised = text[0]!.toUpperCase() + text.slice(1);
  return /[.!?]$/.test(capitalised) ? capitalised : `${capitalised}.`;
}

/** Input rejected by the schema arrives as the JSON list of its issues; the first one says enough. */
function firstIssue(message: string): string {
  if (!message.startsWith('[')) return message;
  try {
    const issues: unknown = JSON.parse(message);
    const first: unknown = Array.isArray(issues) ? issues[0] : undefined;
    if (first && typeof first === 'object' && 'message' in first && typeof first.message === 'string') {
      const field = 'path' in first && Array.isArray(first.path) ? first.path.join('.') : '';
      return field ? `${field}: ${first.message}` : first.message;
    }
  } catch {
    // Not JSON after all: the message stands as it is.
  }
  return message;
}

export function describeError(error: unknown): string {
  // A tRPC error with data came from the server itself; anything else never got a proper answer.
  if (error instanceof TRPCClientError && error.data) return asSentence(firstIssue(error.message));
  return UNREACHABLE;
}

export function isNotFound(error: unknown): boolean {
  return error instanceof TRPCClientError && error.data?.code === 'NOT_FOUND';
}
