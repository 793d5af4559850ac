// The ticket book: one ticket per admitted message, counting its readings down as the sink reports
// each one stored, rejected (after the rejected-reading handler finished) or failed. The message's
// listener hears once, when its last reading is accounted for: the counts, or the first failure
// (the device then gets no PUBACK and resends). promisedOutcome turns that into a promise.
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

export class Ticket {
  stored = 0;
  rejected = 0;
  private failure: Error | undefined;

  constructor(
    readonly origin: MessageOrigin | undefined,
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
    this.failure ??= new IngestError('STORE_FAILED', `reading not stored: ${cause?.message ?? 'unknown error'}`, { cause, retriable: true });
    this.settleOne();
  }

  private settleOne(): void {
    if (--this.remaining > 0) return;
    this.listener.settled(this.failure, this); // the ticket is its own outcome: no object per message
  }
}
