// Which assets are selected in a grid, by id; the anchor is where a shift-click range starts.
import { emptySet, toggled, withAll } from './sets';

export class Selection {
  #ids = $state.raw<ReadonlySet<string>>(emptySet());
  anchor = $state<string | null>(null);

  get ids(): ReadonlySet<string> {
    return this.#ids;
  }
  get size(): number {
    return this.#ids.size;
  }
  has(id: string): boolean {
    return this.#ids.has(id);
  }

  toggle(id: string): void {
    this.#ids = toggled(this.#ids, id);
    this.anchor = id;
  }

  /** Adds (or with `on` false, removes) every id at once. */
  set(ids: Iterable<string>, on = true): void {
    this.#ids = withAll(this.#ids, ids, on);
  }

  /** Replaces the selection, as a drag does with what it covers on top of what was there before it. */
  replace(ids: Iterable<string>): void {
    this.#ids = withAll(emptySet(), ids);
  }

  clear(): void {
    this.#ids = emptySet();
    this.anchor = null;
  }
}
