// Where every tile of the grid goes: justified rows (aspect ratios kept) or squares, per month section, plus estimates for what is not loaded yet.

export type GridMode = 'justified' | 'square';

export interface LayoutOptions {
  width: number;
  mode: GridMode;
  /** Target row height of justified rows; squares aim for this width. */
  rowHeight: number;
  gap: number;
  /** Height of a section's month heading. */
  headerHeight: number;
}

export interface Box {
  /** Index of the asset within its section. */
  index: number;
  left: number;
  width: number;
}

export interface Row {
  top: number;
  height: number;
  boxes: Box[];
  /** Rows that stand for assets not loaded yet: drawn as placeholders, `boxes` empty. */
  placeholder: boolean;
}

export interface SectionLayout {
  /** Relative to the top of the grid. */
  top: number;
  height: number;
  rows: Row[];
}

/** What the layout needs to know of an asset. */
export interface Sized {
  width: number | null;
  height: number | null;
}

/** Width over height, bounded so a panorama or a sliver never takes a whole row or vanishes. */
export function aspect(asset: Sized): number {
  if (!asset.width || !asset.height) return 1;
  return Math.min(Math.max(asset.width / asset.height, 0.4), 3.5);
}

/** Columns and tile size of the square grid. */
export function squareGrid(options: LayoutOptions): { columns: number; size: number } {
  const columns = Math.max(1, Math.round((options.width + options.gap) / (options.rowHeight + options.gap)));
  return { columns, size: (options.width - (columns - 1) * options.gap) / columns };
}

/** Greedy justified rows: add tiles until the row at target height is too wide, then scale it to fit exactly. */
function justifiedRows(items: readonly Sized[], options: LayoutOptions, top: number): Row[] {
  const { width, rowHeight, gap } = options;
  const rows: Row[] = [];
  let start = 0;
  let y = top;
  while (start < items.length) {
    let sum = 0;
    let end = start;
    while (end < items.length) {
      sum += aspect(items[end]!);
      end++;
      if (sum * rowHeight + (end - start - 1) * gap >= width) break;
    }
    const full = sum * rowHeight + (end - start - 1) * gap >= width;
    // The last, short row keeps the target height instead of being blown up to full width.
    const height = full ? (width - (end - start - 1) * gap) / sum : rowHeight;
    const boxes: Box[] = [];
    let x = 0;
    for (let index = start; index < end; index++) {
      const boxWidth = aspect(items[index]!) * height;
      boxes.push({ index, left: x, width: boxWidth });
      x += boxWidth + gap;
    }
    rows.push({ top: y, height, boxes, placeholder: false });
    y += height + gap;
    start = end;
  }
  return rows;
}

function squareRows(items: readonly Sized[], options: LayoutOptions, top: number): Row[] {
  const { columns, size } = squareGrid(options);
  const rows: Row[] = [];
  for (let start = 0; start < items.length; start += columns) {
    const boxes: Box[] = [];
    for (let index = start; index < Math.min(start + columns, items.length); index++) {
      boxes.push({ index, left: (index - start) * (size + options.gap), width: size });
    }
    rows.push({
      top: top + (start / columns) * (size + options.gap),
      height: size,
      boxes,
      placeholder: false,
    });
  }
  return rows;
}

/**
 * One month: its loaded `items` laid out, then placeholder rows for the `count - items.length` not
 * loaded yet, estimated at the loaded rows' average tiles per row (or 1.5:1 photos before any loaded).
 */
export function layoutSection(
  items: readonly Sized[],
  count: number,
  options: LayoutOptions,
  top: number,
): SectionLayout {
  const first = top + options.headerHeight;
  const rows =
    options.mode === 'square' ? squareRows(items, options, first) : justifiedRows(items, options, first);
  const missing = Math.max(0, count - items.length);
  if (missing > 0) {
    const full = rows.filter((row) => row.boxes.length > 0).slice(0, -1);
    const perRow =
      options.mode === 'square'
        ? squareGrid(options).columns
        : full.length > 0
          ? full.reduce((sum, row) => sum + row.boxes.length, 0) / full.length
          : Math.max(1, (options.width + options.gap) / (1.5 * options.rowHeight + options.gap));
    const height = options.mode === 'square' ? squareGrid(options).size : options.rowHeight;
    // The loaded part's last row may be short; its place is taken by the estimate.
    if (rows.length > 0 && options.mode === 'justified') rows.pop();
    const fromRows =
      rows.length > 0 ? rows[rows.length - 1]!.top + rows[rows.length - 1]!.height + options.gap : first;
    const unplaced = count - rows.reduce((sum, row) => sum + row.boxes.length, 0);
    const placeholderRows = Math.ceil(unplaced / perRow);
    for (let row = 0; row < placeholderRows; row++) {
      rows.push({ top: fromRows + row * (height + options.gap), height, boxes: [], placeholder: true });
    }
  }
  const last = rows[rows.length - 1];
  const bottom = last ? last.top + last.height : first;
  return { top, height: bottom - top + options.gap * 4, rows };
}

/** Index of the last section starting at or above `y` (binary search; sections are in order). */
export function sectionAt(layouts: readonly SectionLayout[], y: number): number {
  let low = 0;
  let high = layouts.length - 1;
  while (low < high) {
    const middle = (low + high + 1) >> 1;
    if (layouts[middle]!.top <= y) low = middle;
    else high = middle - 1;
  }
  return Math.max(0, low);
}
