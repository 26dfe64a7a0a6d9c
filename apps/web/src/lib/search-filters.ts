// The search page's filters as the form holds them, and as `search.query` takes them.
export type Kind = 'image' | 'video' | 'other';

export interface SearchFilters {
  kind: Kind | '';
  /** `yyyy-mm-dd` as date inputs give it; empty when unset. */
  from: string;
  to: string;
  camera: string;
  libraryId: string;
  favorite: boolean;
}

export const emptyFilters = (): SearchFilters => ({
  kind: '',
  from: '',
  to: '',
  camera: '',
  libraryId: '',
  favorite: false,
});

/** The filters as `search.query` takes them; dates are local days, `to` inclusive. */
export function toApiFilters(filters: SearchFilters) {
  const dayStart = (day: string) => new Date(`${day}T00:00:00`);
  const nextDay = (day: string) => {
    const [year, month, date] = day.split('-').map(Number);
    return new Date(year!, month! - 1, date! + 1);
  };
  return {
    ...(filters.kind && { kinds: [filters.kind] }),
    ...(filters.from && { from: dayStart(filters.from).toISOString() }),
    ...(filters.to && { to: nextDay(filters.to).toISOString() }),
    ...(filters.camera && { model: filters.camera }),
    ...(filters.libraryId && { libraryId: filters.libraryId }),
    ...(filters.favorite && { favorite: true }),
  };
}
