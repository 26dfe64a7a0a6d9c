// Names people give things (files, albums, accounts, tokens, libraries), cleaned before they are stored.
import { z } from 'zod';

/**
 * Characters that are invisible or reorder what follows: C0 and C1 controls, zero-width characters,
 * left-to-right/right-to-left marks, bidi embeddings, overrides and isolates, the Arabic letter mark,
 * the byte-order mark and the line/paragraph separators. U+202E turns `photo\u202egpj.html` into
 * what reads as "photolmth.jpg"; none of them belongs in a name.
 */
// eslint-disable-next-line no-control-regex
const INVISIBLE = /[\u0000-\u001f\u007f-\u009f\u061c\u200b-\u200f\u2028-\u202e\u2066-\u2069\ufeff]/g;

/** The name without invisible and direction-changing characters, trimmed. */
export function cleanName(raw: string): string {
  return raw.replace(INVISIBLE, '').trim();
}

/** A zod string for a stored name: cleaned, then at least `min` and at most `max` characters. */
export function nameInput(max: number, min = 1) {
  return z
    .string()
    .max(max * 4)
    .transform(cleanName)
    .pipe(
      z
        .string()
        .min(min, min > 0 ? 'a name needs at least one visible character' : undefined)
        .max(max),
    );
}
