// How many telemetry messages the broker holds at once queued for the store, waiting for their
// PUBACK (their readings queued or being written): at `maxHeld`, it stops reading from device
// connections, so that further messages wait in the connections' TCP buffers instead of in the
// process, and reads again, oldest waiting connection first, as held messages are released.
// Messages held back by their device's rate, or waiting for a dead-letter slot or queue space, are
// not counted (publish-hook.ts): they are that device's own backlog, bounded by its own limits, and
// must not stop the broker reading the other devices.
//
// Why: under load the store is not what limits how many messages are in the process: each turn of
// the event loop reads every connection that has data, and a device keeps up to its in-flight
// window of messages outstanding. Messages held for longer than the young generation takes to fill
// (a few tens of milliseconds at full rate) are copied by each scavenge and then promoted to the
// old generation; that garbage-collection work grows with the time a message is held. Held to a
// bound the store keeps busy, a message lives for a few milliseconds instead, and dies young.
//
// The connection guard (connection-guard.ts) asks `mayRead` in its read wrapper; a connection told
// no is parked and gets a 'readable' event again when there is room (aedes reads on 'readable').
// Messages already read are never held back: the bound is reached by at most one read's worth.
import type { Duplex } from 'node:stream';
import { Gauge } from 'prom-client';
import type { Registry } from 'prom-client';

export class ReadGate {
  private held = 0;
  /** Connections waiting to read, in the order they were parked (a Set keeps insertion order). */
  private readonly parked = new Set<Duplex>();
  private resumeQueued = false;

  constructor(readonly maxHeld: number) {}

  /** A message is held (until its PUBACK or refusal). */
  enter(): void {
    this.held++;
  }

  /** A held message was released. */
  leave(): void {
    this.held--;
    if (this.parked.size > 0 && this.held < this.maxHeld && !this.resumeQueued) {
      // Not from inside the release (aedes is writing a PUBACK): on the next turn.
      this.resumeQueued = true;
      setImmediate(() => this.resume());
    }
  }

  /** Whether `conn` may read now; when not, it is parked until there is room. */
  mayRead(conn: Duplex): boolean {
    if (this.held < this.maxHeld) {
      this.parked.delete(conn);
      return true;
    }
    this.parked.add(conn);
    return false;
  }

  /** A closed connection waits no more. */
  forget(conn: Duplex): void {
    this.parked.delete(conn);
  }

  get heldMessages(): number {
    return this.held;
  }

  get parkedConnections(): number {
    return this.parked.size;
  }

  private resume(): void {
    this.resumeQueued = false;
    for (const conn of this.parked) {
      if (this.held >= this.maxHeld) return;
      this.parked.delete(conn);
      // aedes' read loop listens to 'readable'; the read it makes comes back to mayRead.
      if (!conn.destroyed) conn.emit('readable');
    }
  }
}

/** The gauge of connections waiting to read (iot_ingest_read_paused_connections). */
export function registerReadGateMetrics(registry: Registry, gate: ReadGate): void {
  new Gauge({
    name: 'iot_ingest_read_paused_connections',
    help: 'Device connections not read from because the broker holds --max-held-messages messages awaiting their PUBACK (their messages wait in TCP buffers).',
    registers: [registry],
    collect() {
      this.set(gate.parkedConnections);
    },
  });
}
