// Short messages over every page: errors stay until dismissed or replaced, the rest leave by themselves.
export type ToastKind = 'error' | 'success' | 'info';

export interface Toast {
  readonly id: number;
  readonly kind: ToastKind;
  readonly message: string;
  /** One button next to the message, such as "Undo". */
  readonly action?: { label: string; run: () => void };
}

const LINGER_MS = { error: 10_000, success: 4000, info: 5000 } as const;
/** More than this on screen at once is noise; the oldest go first. */
const MAX_SHOWN = 4;

class Toasts {
  #items = $state<Toast[]>([]);
  #nextId = 1;

  get items(): readonly Toast[] {
    return this.#items;
  }

  show(kind: ToastKind, message: string, action?: Toast['action']): number {
    // The same error twice in a row (a retried call failing again) shows once.
    const same = this.#items.find((toast) => toast.kind === kind && toast.message === message);
    if (same) this.dismiss(same.id);
    const id = this.#nextId++;
    this.#items = [...this.#items, { id, kind, message, action }].slice(-MAX_SHOWN);
    setTimeout(() => this.dismiss(id), action ? LINGER_MS.error : LINGER_MS[kind]);
    return id;
  }

  error(message: string, action?: Toast['action']): number {
    return this.show('error', message, action);
  }

  success(message: string, action?: Toast['action']): number {
    return this.show('success', message, action);
  }

  info(message: string, action?: Toast['action']): number {
    return this.show('info', message, action);
  }

  dismiss(id: number): void {
    this.#items = this.#items.filter((toast) => toast.id !== id);
  }
}

/** The app's one toast list; `components/toaster.svelte` in the app layout shows it. */
export const toasts = new Toasts();
