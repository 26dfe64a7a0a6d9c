// Keyboard shortcuts: pages register theirs while mounted; one window listener dispatches and `?` lists them all.
import { untrack } from 'svelte';

export interface Shortcut {
  /** A key as `KeyboardEvent.key` names it (`"ArrowLeft"`, `"f"`, `"?"`), or `"Mod+a"` for Ctrl/⌘ with it. */
  key: string;
  /** What it does, for the help dialog. */
  description: string;
  /** Help dialog heading: "General", "Photos", "Viewer"… */
  group: string;
  run: (event: KeyboardEvent) => void;
  /** Also while typing in a field (Escape usually is). */
  inFields?: boolean;
}

/** Whether the keystroke is meant for a text field, a select or an editable element. */
function typing(target: EventTarget | null): boolean {
  if (!(target instanceof HTMLElement)) return false;
  if (target.isContentEditable) return true;
  if (target instanceof HTMLTextAreaElement || target instanceof HTMLSelectElement) return true;
  return (
    target instanceof HTMLInputElement && !['checkbox', 'radio', 'button', 'range'].includes(target.type)
  );
}

function name(event: KeyboardEvent): string {
  return event.ctrlKey || event.metaKey ? `Mod+${event.key.toLowerCase()}` : event.key;
}

class Shortcuts {
  // A stack: the most recently registered binding of a key wins (the viewer's ArrowLeft over the grid's).
  #bindings = $state<Shortcut[]>([]);

  get all(): readonly Shortcut[] {
    return this.#bindings;
  }

  /** Adds shortcuts until the returned function is called (use it as an effect's cleanup). */
  register(...shortcuts: Shortcut[]): () => void {
    // Untracked: an effect that registers must not re-run because the list it just changed changed.
    untrack(() => (this.#bindings = [...this.#bindings, ...shortcuts]));
    return () =>
      untrack(() => (this.#bindings = this.#bindings.filter((binding) => !shortcuts.includes(binding))));
  }

  /** The window's keydown handler. */
  handle = (event: KeyboardEvent): void => {
    if (event.defaultPrevented || event.altKey) return;
    // A modal dialog owns the keyboard, apart from Escape which it handles itself.
    if (document.querySelector('dialog[open]')) return;
    const key = name(event);
    const inField = typing(event.target);
    for (let index = this.#bindings.length - 1; index >= 0; index--) {
      const binding = this.#bindings[index]!;
      if (binding.key !== key || (inField && !binding.inFields)) continue;
      event.preventDefault();
      binding.run(event);
      return;
    }
  };
}

export const shortcuts = new Shortcuts();
