// The ticket book: one ticket per admitted message of several readings, counting them down as the
// sink reports each one stored, rejected (after the rejected-reading handler finished) or failed.
// The message's listener hears once, when its last reading is accounted for: the counts, or the
// first failure (the device then gets no PUBACK and resends). A message of one reading, which most
// are, needs no ticket: its one outcome goes to the listener directly (ONE_STORED, ONE_REJECTED,
// storeFailure). promisedOutcome turns the listener into a promise.
import { IngestError } from '../errors.ts';

/** Where a message came from; handed back with readings the store rejects (for the dead-letter). */
export interface MessageOrigin {
  readonly clientId: string | null;
  readonly qos: number;
}

export interface StoreOutcome {
  readonly stored: number;
  /** Readings the store refused on their own; already handed to the rejected-reading handler. */
  readonly rejected: number;
}

/**
 * Hears once that a message's readings are all accounted for: `failure` undefined means stored
 * (or rejected by the store on their own). The publish hook's per-message object implements it,
 * so a message costs no promise and no closures on the way to its PUBACK.
 */
export interface TicketListener {
  /** `outcome` is read at once: it is the ticket itself, not a copy. */
  settled(failure: Error | undefined, outcome: StoreOutcome): void;
}

/** A listener that settles a promise: for callers that want the outcome as a promise. */
export function promisedOutcome(): { readonly listener: TicketListener; readonly stored: Promise<StoreOutcome> } {
  let listener!: TicketListener;
  const stored = new Promise<StoreOutcome>((resolve, reject) => {
    listener = { settled: (failure, o) => (failure === undefined ? resolve({ stored: o.stored, rejected: o.rejected }) : reject(failure)) };
  });
  return { listener, stored };
}

/** The outcomes of a message of one reading (which needs no ticket: see Batcher's entries). */
export const ONE_STORED: StoreOutcome = Object.freeze({ stored: 1, rejected: 0 });
export const ONE_REJECTED: StoreOutcome = Object.freeze({ stored: 0, rejected: 1 });
export const NONE_STORED: StoreOutcome = Object.freeze({ stored: 0, rejected: 0 });

/** The failure a message's listener hears when one of its readings was not stored. */
export function storeFailure(cause: Error | undefined): IngestError {
  return new IngestError('STORE_FAILED', `reading not stored: ${cause?.message ?? 'unknown error'}`, { cause, retriable: true });
}

/** The book of a message of several readings. */
export class Ticket {
  stored = 0;
  rejected = 0;
  private failure: Error | undefined;

  constructor(
    private remaining: number,
    private readonly listener: TicketListener,
  ) {}

  markStored(): void {
    this.stored++;
    this.settleOne();
  }

  markRejected(): void {
    this.rejected++;
    this.settleOne();
  }

  markFailed(cause: Error | undefined): void {
    this.failure ??= storeFailure(cause);
    this.settleOne();
  }

  private settleOne(): void {
    if (--this.remaining > 0) return;
    this.listener.settled(this.failure, this); // the ticket is its own outcome: no object per message
  }
}
