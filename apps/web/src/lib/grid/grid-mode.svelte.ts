// The grid's look (justified rows or squares), remembered in this browser.
import type { GridMode } from './layout';

const KEY = 'nook.gridMode';

class GridModeSetting {
  #value = $state<GridMode>(
    typeof localStorage !== 'undefined' && localStorage.getItem(KEY) === 'square' ? 'square' : 'justified',
  );

  get value(): GridMode {
    return this.#value;
  }

  toggle(): void {
    this.#value = this.#value === 'justified' ? 'square' : 'justified';
    try {
      localStorage.setItem(KEY, this.#value);
    } catch {
      // Private modes may refuse storage; the choice then lasts for this visit.
    }
  }
}

export const gridMode = new GridModeSetting();
