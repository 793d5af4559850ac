// The ticket book: one ticket per admitted message, counting its readings down as the sink reports
// each one stored, rejected (after the rejected-reading handler finished) or failed. The message's
// `stored` promise settles when its last reading is accounted for: resolved with the counts, or
// rejected with the first failure (the device then gets no PUBACK and resends).
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
  settled(failure: Error | undefined, outcome: StoreOutcome): void;
}

export class Ticket {
  stored = 0;
  rejected = 0;
  private failure: Error | undefined;
  private readonly listener: TicketListener;
  /** Set when no listener was given: the message's `stored` promise. */
  readonly promise: Promise<StoreOutcome> | undefined;

  constructor(
    readonly origin: MessageOrigin | undefined,
    private remaining: number,
    listener?: TicketListener,
  ) {
    if (listener !== undefined) {
      this.listener = listener;
      this.promise = undefined;
      return;
    }
    let listen!: TicketListener;
    this.promise = new Promise<StoreOutcome>((resolve, reject) => {
      listen = { settled: (failure, outcome) => (failure === undefined ? resolve(outcome) : reject(failure)) };
    });
    this.listener = listen;
  }

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
    this.listener.settled(this.failure, { stored: this.stored, rejected: this.rejected });
  }
}
