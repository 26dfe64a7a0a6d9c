// One thing a form or button asks the server to do: whether it is under way, and why it last failed.
import { describeError } from './errors';

export class Action<Args extends unknown[], Result> {
  readonly #run: (...args: Args) => Promise<Result>;
  #pending = $state(false);
  #error = $state<string | null>(null);

  constructor(run: (...args: Args) => Promise<Result>) {
    this.#run = run;
  }

  get pending(): boolean {
    return this.#pending;
  }
  get error(): string | null {
    return this.#error;
  }

  /** The result wrapped, or null when it failed (the reason is then in `error`). */
  async run(...args: Args): Promise<{ value: Result } | null> {
    if (this.#pending) return null;
    this.#pending = true;
    this.#error = null;
    try {
      return { value: await this.#run(...args) };
    } catch (error) {
      this.#error = describeError(error);
      return null;
    } finally {
      this.#pending = false;
    }
  }

  /** Runs it for its effect alone: null when it worked, otherwise why it failed. */
  async attempt(...args: Args): Promise<string | null> {
    return (await this.run(...args)) ? null : (this.#error ?? 'It is already under way.');
  }

  /** Forgets the last failure, when the form it belongs to starts over. */
  reset(): void {
    this.#error = null;
  }
}
