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

export class Ticket {
  stored = 0;
  rejected = 0;
  private failure: Error | undefined;
  private resolve!: (o: StoreOutcome) => void;
  private reject!: (e: Error) => void;
  readonly promise: Promise<StoreOutcome>;

  constructor(
    readonly origin: MessageOrigin | undefined,
    private remaining: number,
  ) {
    this.promise = new Promise<StoreOutcome>((resolve, reject) => {
      this.resolve = resolve;
      this.reject = reject;
    });
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
    if (this.failure) this.reject(this.failure);
    else this.resolve({ stored: this.stored, rejected: this.rejected });
  }
}
