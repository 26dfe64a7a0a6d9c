// Series colours for charts: the theme's accent, then mid-tone hues that read on light and dark alike.
export const SERIES_COLORS = ['var(--accent)', '#4f7fd8', '#d48a2a', '#9b6bd3'];

export function seriesColor(index: number): string {
  return SERIES_COLORS[index % SERIES_COLORS.length]!;
}
