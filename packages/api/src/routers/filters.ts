// The timeline filters as procedures accept them (shared by assets.list, assets.buckets and search.query).
import type { TimelineFilters } from '@nook/core';
import { z } from 'zod';

export const timelineFilters = z
  .object({
    kinds: z
      .array(z.enum(['image', 'video', 'other']))
      .max(3)
      .optional(),
    libraryId: z.uuid().optional(),
    albumId: z.uuid().optional(),
    from: z.iso.datetime({ offset: true }).optional(),
    to: z.iso.datetime({ offset: true }).optional(),
    favorite: z.boolean().optional(),
    make: z.string().max(128).optional(),
    model: z.string().max(128).optional(),
  })
  .default({});

export function toFilters(input: z.infer<typeof timelineFilters>): TimelineFilters {
  return {
    ...input,
    from: input.from ? new Date(input.from) : undefined,
    to: input.to ? new Date(input.to) : undefined,
  };
}

export const ids = z.array(z.uuid()).min(1).max(1000);
