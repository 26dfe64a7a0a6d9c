// One value fetched from the server, with the loading and error states every list on the dashboard shows.
import { describeError } from './errors';

export type LoadStatus = 'loading' | 'ready' | 'error';

export class Loadable<T> {
  readonly #fetch: () => Promise<T>;
  #value = $state.raw<T | undefined>();
  #status = $state<LoadStatus>('loading');
  #error = $state<string | null>(null);
  /** Bumped by every load, so a slow answer never overwrites a newer one. */
  #generation = 0;

  constructor(fetch: () => Promise<T>) {
    this.#fetch = fetch;
  }

  get value(): T | undefined {
    return this.#value;
  }
  get status(): LoadStatus {
    return this.#status;
  }
  get error(): string | null {
    return this.#error;
  }

  /** Fetches again; what is shown stays on screen meanwhile, so a refresh after a change does not flicker. */
  async load(): Promise<void> {
    const generation = ++this.#generation;
    if (this.#value === undefined) this.#status = 'loading';
    try {
      const value = await this.#fetch();
      if (generation !== this.#generation) return;
      this.#value = value;
      this.#error = null;
      this.#status = 'ready';
    } catch (error) {
      if (generation !== this.#generation) return;
      this.#error = describeError(error);
      this.#status = 'error';
    }
  }
}
