// Storage quotas for uploads under way: a per-user table in this process, checked and reserved
// synchronously, so parallel uploads cannot all pass a check made before any of them was stored.
import { NookError } from '../errors';

interface UserEntry {
  /** Bytes reserved by uploads under way and not yet stored. */
  reserved: number;
  /**
   * Bytes that moved from a reservation into storage (an asset row, a tus upload's file) since the
   * entry was created: a reservation adds what moved after it measured the stored bytes.
   */
  settled: number;
  /** Open reservations; the entry is dropped when the last one closes. */
  open: number;
}

/** Words for a refusal: what storage holds, what other uploads hold, what this one would hold. */
export type QuotaMessage = (details: { stored: number; others: number; held: number }) => string;

/**
 * One upload's hold on its owner's quota. `grow` checks and reserves in one synchronous step;
 * `settle` says reserved bytes are now stored, `release` that they never will be; `close` gives
 * back whatever is still reserved.
 */
export class QuotaReservation {
  private held = 0;
  private closed = false;

  constructor(
    private readonly entry: UserEntry,
    private readonly quotaBytes: number | null,
    /** What storage held when this reservation measured it. */
    private readonly measured: number,
    private readonly settledAtMeasure: number,
    private readonly onClose: () => void,
  ) {}

  /** Bytes stored, counting those stored by other uploads since this reservation measured. */
  get storedBytes(): number {
    return this.measured + this.entry.settled - this.settledAtMeasure;
  }

  /** Bytes other uploads under way in this process hold. */
  get othersBytes(): number {
    return this.entry.reserved - this.held;
  }

  get heldBytes(): number {
    return this.held;
  }

  /** Refuses (413) when the stored bytes, every upload's reservation and `bytes` more would pass the quota. */
  check(bytes: number, describe?: QuotaMessage): void {
    if (this.closed) throw new Error('quota reservation used after close');
    if (this.quotaBytes === null || this.storedBytes + this.entry.reserved + bytes <= this.quotaBytes) return;
    const details = { stored: this.storedBytes, others: this.othersBytes, held: this.held + bytes };
    throw new NookError(
      'PAYLOAD_TOO_LARGE',
      describe?.(details) ??
        `storage quota exceeded: ${details.stored} of ${this.quotaBytes} bytes used` +
          (details.others ? `, ${details.others} in unfinished uploads` : '') +
          `, this upload needs ${details.held}`,
    );
  }

  /** Checks and reserves in one synchronous step, so no other upload can pass in between. */
  grow(bytes: number, describe?: QuotaMessage): void {
    if (bytes <= 0) return;
    this.check(bytes, describe);
    this.held += bytes;
    this.entry.reserved += bytes;
  }

  /** These reserved bytes are now stored (a row was inserted, a file written): they count there. */
  settle(bytes = this.held): void {
    const moved = Math.min(bytes, this.held);
    this.held -= moved;
    this.entry.reserved -= moved;
    this.entry.settled += moved;
  }

  /** These reserved bytes will not be stored (a failure, a duplicate). */
  release(bytes = this.held): void {
    const freed = Math.min(bytes, this.held);
    this.held -= freed;
    this.entry.reserved -= freed;
  }

  close(): void {
    if (this.closed) return;
    this.release();
    this.closed = true;
    this.onClose();
  }
}

/**
 * Reservations per user. It lives in memory, so it is exact for uploads handled by one server
 * process (Nook runs one); several server processes would each see only their own.
 */
export class UploadReservations {
  private readonly users = new Map<string, UserEntry>();

  /**
   * Opens a reservation of nothing yet. `measure` reads what is already stored (and waiting on
   * disk); bytes other uploads store while it runs are counted through the entry's settled total.
   */
  async open(
    userId: string,
    quotaBytes: number | null,
    measure: () => Promise<number>,
  ): Promise<QuotaReservation> {
    let entry = this.users.get(userId);
    if (!entry) {
      entry = { reserved: 0, settled: 0, open: 0 };
      this.users.set(userId, entry);
    }
    entry.open += 1;
    const settledBefore = entry.settled;
    const held = entry;
    const onClose = () => {
      held.open -= 1;
      if (held.open === 0 && this.users.get(userId) === held) this.users.delete(userId);
    };
    let measured: number;
    try {
      measured = quotaBytes === null ? 0 : await measure();
    } catch (error) {
      onClose();
      throw error;
    }
    return new QuotaReservation(entry, quotaBytes, measured, settledBefore, onClose);
  }
}

/** The server's table: every upload route of this process shares it. */
export const uploadReservations = new UploadReservations();
