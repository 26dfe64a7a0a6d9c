// Pinch, wheel and double-click zoom with panning, as one transform on the shown image.
const MAX_SCALE = 8;

export class Zoom {
  scale = $state(1);
  x = $state(0);
  y = $state(0);
  // Pointers down right now: gesture bookkeeping, never shown.
  // eslint-disable-next-line svelte/prefer-svelte-reactivity
  #pointers = new Map<number, { x: number; y: number }>();
  #pinch: { distance: number; scale: number } | null = null;

  get zoomed(): boolean {
    return this.scale > 1.01;
  }
  get transform(): string {
    return `translate(${this.x}px, ${this.y}px) scale(${this.scale})`;
  }

  reset(): void {
    this.scale = 1;
    this.x = 0;
    this.y = 0;
  }

  /** Zooms by `factor` keeping the point (`cx`, `cy`), relative to the stage's centre, where it is. */
  zoomAt(factor: number, cx = 0, cy = 0): void {
    const next = Math.min(Math.max(this.scale * factor, 1), MAX_SCALE);
    const applied = next / this.scale;
    this.x = cx - (cx - this.x) * applied;
    this.y = cy - (cy - this.y) * applied;
    this.scale = next;
    if (!this.zoomed) this.reset();
  }

  wheel = (event: WheelEvent, stage: HTMLElement): void => {
    event.preventDefault();
    const { cx, cy } = this.#centred(event, stage);
    this.zoomAt(Math.exp(-event.deltaY / 300), cx, cy);
  };

  toggle = (event: MouseEvent, stage: HTMLElement): void => {
    if (this.zoomed) return this.reset();
    const { cx, cy } = this.#centred(event, stage);
    this.zoomAt(2.5, cx, cy);
  };

  /** Returns whether the pointer is now part of a zoom or pan gesture (the viewer's swipe then ignores it). */
  down = (event: PointerEvent): boolean => {
    this.#pointers.set(event.pointerId, { x: event.clientX, y: event.clientY });
    if (this.#pointers.size === 2) {
      this.#pinch = { distance: this.#distance(), scale: this.scale };
      return true;
    }
    return this.zoomed;
  };

  move = (event: PointerEvent, stage: HTMLElement): void => {
    const last = this.#pointers.get(event.pointerId);
    if (!last) return;
    const now = { x: event.clientX, y: event.clientY };
    this.#pointers.set(event.pointerId, now);
    if (this.#pinch && this.#pointers.size === 2) {
      const points = [...this.#pointers.values()];
      const mid = { clientX: (points[0]!.x + points[1]!.x) / 2, clientY: (points[0]!.y + points[1]!.y) / 2 };
      const { cx, cy } = this.#centred(mid, stage);
      this.zoomAt((this.#pinch.scale * this.#distance()) / this.#pinch.distance / this.scale, cx, cy);
    } else if (this.zoomed) {
      this.x += now.x - last.x;
      this.y += now.y - last.y;
    }
  };

  up = (event: PointerEvent): void => {
    this.#pointers.delete(event.pointerId);
    if (this.#pointers.size < 2) this.#pinch = null;
  };

  #distance(): number {
    const [a, b] = [...this.#pointers.values()];
    return Math.hypot(a!.x - b!.x, a!.y - b!.y) || 1;
  }

  #centred(point: { clientX: number; clientY: number }, stage: HTMLElement): { cx: number; cy: number } {
    const rect = stage.getBoundingClientRect();
    return { cx: point.clientX - rect.left - rect.width / 2, cy: point.clientY - rect.top - rect.height / 2 };
  }
}
