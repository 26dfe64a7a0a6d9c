// Immutable set updates for the selection: each change is a new Set, so reactive readers see one assignment.

export function toggled(set: ReadonlySet<string>, id: string): Set<string> {
  const next = new Set(set);
  if (!next.delete(id)) next.add(id);
  return next;
}

/** `set` with every id added, or with `on` false removed. */
export function withAll(set: ReadonlySet<string>, ids: Iterable<string>, on = true): Set<string> {
  const next = new Set(set);
  for (const id of ids) {
    if (on) next.add(id);
    else next.delete(id);
  }
  return next;
}

export const emptySet = (): ReadonlySet<string> => new Set();
