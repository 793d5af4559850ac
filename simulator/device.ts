// One simulated device: its own mqtt.js connection, a publish loop paced by a credit of readings
// (rate x scenario multiplier x elapsed time), an in-flight window for QoS 1, and reconnects with
// exponential backoff and full jitter (mqtt.js' fixed-period reconnect would herd the fleet).
import mqtt from 'mqtt';
import type { IClientOptions, MqttClient } from 'mqtt';
import type { AckLedger } from './ledger.ts';
import type { MessageSource, OutgoingMessage } from './messages.ts';
import type { Random } from './prng.ts';
import type { Scenario } from './scenarios.ts';
import { msUntilRateChange, rateMultiplier } from './scenarios.ts';
import type { FleetStats } from './stats.ts';

/** After a wrong-topic publish the device waits this long to be disconnected before going on. */
const KICK_WAIT_MS = 2000;
/** Longest sleep of the publish loop, so that scenario changes are picked up. */
const MAX_SLEEP_MS = 1000;

export interface DeviceSettings {
  /** 1-based device number (also the index its random streams are derived from). */
  readonly n: number;
  readonly id: string;
  readonly url: string;
  readonly clientOptions: IClientOptions;
  readonly source: MessageSource;
  readonly qos: 0 | 1;
  /** Unsettled publishes allowed (QoS 1: awaiting PUBACK; QoS 0: awaiting the socket write). */
  readonly inflight: number;
  readonly batch: number;
  readonly ratePerDevice: number;
  /** Readings to send, then stop; undefined = until the fleet stops it. */
  readonly count: number | undefined;
  readonly reconnectMinMs: number;
  readonly reconnectMaxMs: number;
  /** Timing jitter (reconnect delays, start phase); never used for payloads. */
  readonly jitter: Random;
}

export interface DeviceContext {
  readonly stats: FleetStats;
  readonly ledger: AckLedger;
  readonly scenario: Scenario;
  /** Publishing ends this long after the start (--duration); no credit is earned past it. */
  readonly durationMs: number | undefined;
  /** Milliseconds since the run started (monotonic). */
  elapsedMs(): number;
  /** The first connection attempt of this device succeeded or failed. */
  onFirstAttempt(connected: boolean): void;
  /** A publish settled or the device finished: the fleet may be done. */
  onProgress(): void;
}

export class SimulatedDevice {
  private client: MqttClient | undefined;
  private connected = false;
  private everAttempted = false;
  /** No new messages (the run is ending); reconnects still happen so in-flight ones get acked. */
  private stopping = false;
  /** Connection closed for good. */
  private closing = false;
  private finished = false;
  private credit: number;
  private lastTickMs = 0;
  private plannedReadings = 0;
  private pending = 0;
  private attempts = 0;
  private offlineUntilMs = 0;
  private awaitingKick = false;
  /**
   * A wrong-topic message waits here until nothing else is in flight: the service will close the
   * connection, and a QoS 1 message caught in the close would be resent and counted twice.
   */
  private held: OutgoingMessage | undefined;
  /** Inside pump(): QoS 0 callbacks can run synchronously from publish() and must not re-enter it. */
  private pumping = false;
  private sendTimer: NodeJS.Timeout | undefined;
  private reconnectTimer: NodeJS.Timeout | undefined;
  private kickTimer: NodeJS.Timeout | undefined;

  constructor(
    private readonly settings: DeviceSettings,
    private readonly context: DeviceContext,
  ) {
    // A random start phase, so that devices connected in the same millisecond do not publish in step.
    this.credit = settings.jitter() * Math.min(settings.batch, 1);
  }

  get id(): string {
    return this.settings.id;
  }

  get isFinished(): boolean {
    return this.finished;
  }

  get unsettled(): number {
    return this.pending;
  }

  start(): void {
    if (this.client !== undefined || this.closing) return;
    const client = mqtt.connect(this.settings.url, this.settings.clientOptions);
    this.client = client;
    client.on('connect', () => this.onConnect());
    client.on('close', () => this.onClose());
    client.on('error', (error: Error) => {
      this.context.stats.lastError = `${this.settings.id}: ${error.message}`;
    });
  }

  /** Reconnect-storm: drop the connection now, stay offline for `downtimeMs`, then reconnect at once. */
  dropFor(downtimeMs: number): void {
    this.offlineUntilMs = this.context.elapsedMs() + downtimeMs;
    if (this.connected) this.client?.stream.destroy();
  }

  /** Send nothing new from now on. */
  stop(): void {
    this.stopping = true;
    this.clearTimer('send');
    this.clearTimer('kick');
  }

  /** Close the connection; publishes still unsettled are counted as unacked by their callbacks. */
  async close(): Promise<void> {
    this.stop();
    this.closing = true;
    this.clearTimer('reconnect');
    const client = this.client;
    if (client === undefined) return;
    await new Promise<void>((resolve) => {
      const timer = setTimeout(resolve, 2000);
      client.end(true, () => {
        clearTimeout(timer);
        resolve();
      });
    });
  }

  private onConnect(): void {
    const { stats } = this.context;
    this.connected = true;
    this.attempts = 0;
    this.awaitingKick = false;
    this.clearTimer('kick');
    stats.connected += 1;
    stats.connects += 1;
    this.reportFirstAttempt(true);
    this.lastTickMs = this.context.elapsedMs();
    this.pump();
  }

  private onClose(): void {
    const { stats } = this.context;
    if (this.connected) {
      this.connected = false;
      stats.connected -= 1;
      if (!this.closing) stats.disconnects += 1;
    } else {
      stats.connectFailures += 1;
      this.reportFirstAttempt(false);
    }
    this.clearTimer('send');
    if (!this.closing) this.scheduleReconnect();
  }

  private reportFirstAttempt(connected: boolean): void {
    if (this.everAttempted) return;
    this.everAttempted = true;
    this.context.onFirstAttempt(connected);
  }

  private scheduleReconnect(): void {
    if (this.reconnectTimer !== undefined) return;
    const now = this.context.elapsedMs();
    let delayMs: number;
    if (this.offlineUntilMs > now) {
      delayMs = this.offlineUntilMs - now;
    } else {
      this.attempts += 1;
      const capMs = Math.min(this.settings.reconnectMaxMs, this.settings.reconnectMinMs * 2 ** (this.attempts - 1));
      delayMs = this.settings.jitter() * capMs;
    }
    this.reconnectTimer = setTimeout(() => {
      this.reconnectTimer = undefined;
      const client = this.client;
      if (client === undefined || this.closing) return;
      // Keep the stores: unacknowledged QoS 1 messages are resent on the new connection.
      client.reconnect({ incomingStore: client.incomingStore, outgoingStore: client.outgoingStore });
    }, delayMs);
  }

  /** Readings the next message needs, 0 when --count is reached. */
  private nextMessageReadings(): number {
    const { batch, count } = this.settings;
    return count === undefined ? batch : Math.min(batch, count - this.plannedReadings);
  }

  private canSend(): boolean {
    return this.connected && !this.stopping && !this.awaitingKick && this.pending < this.settings.inflight
      && !this.socketBacklogged();
  }

  /** QoS 0 has no acknowledgements to wait for: hold back while the socket's buffer is full instead. */
  private socketBacklogged(): boolean {
    const stream = this.client?.stream as { writableNeedDrain?: boolean } | undefined;
    return stream?.writableNeedDrain === true;
  }

  /** The publish loop: earn credit for the time passed, spend it on messages, sleep until the next. */
  private pump(): void {
    if (this.pumping) return;
    this.pumping = true;
    try {
      this.pumpOnce();
    } finally {
      this.pumping = false;
    }
  }

  private pumpOnce(): void {
    this.clearTimer('send');
    if (!this.connected || this.stopping || this.finished) return;
    if (this.held !== undefined) {
      if (this.pending > 0 || !this.canSend()) return; // resumed when the last publish settles
      const message = this.held;
      this.held = undefined;
      this.send(message);
      return;
    }
    const now = Math.min(this.context.elapsedMs(), this.context.durationMs ?? Infinity);
    const rate = this.settings.ratePerDevice * rateMultiplier(this.context.scenario, now);
    const creditCap = this.settings.batch * this.settings.inflight;
    this.credit = Math.min(creditCap, this.credit + (rate * (now - this.lastTickMs)) / 1000);
    this.lastTickMs = now;

    let needed = this.nextMessageReadings();
    while (needed > 0 && this.credit >= needed && this.canSend() && this.held === undefined) {
      this.credit -= needed;
      const message = this.settings.source.next(Date.now(), needed);
      if (message.kind === 'wrong-topic' && this.pending > 0) this.held = message;
      else this.send(message);
      needed = this.nextMessageReadings();
    }
    if (this.held !== undefined) return;
    if (needed === 0) {
      this.finished = true;
      this.context.stats.finished += 1;
      this.context.onProgress();
      return;
    }
    if (this.connected && !this.stopping && !this.awaitingKick && this.socketBacklogged()) {
      this.sendTimer = setTimeout(() => this.pump(), 10);
      return;
    }
    if (!this.canSend()) return; // resumed by a settling publish, a reconnect or the kick timer
    const waitMs = rate > 0 ? ((needed - this.credit) / rate) * 1000 : 100;
    const sleepMs = Math.max(1, Math.min(waitMs, MAX_SLEEP_MS, msUntilRateChange(this.context.scenario, now)));
    this.sendTimer = setTimeout(() => this.pump(), sleepMs);
  }

  private send(message: OutgoingMessage): void {
    const client = this.client;
    if (client === undefined) return;
    const { stats } = this.context;
    const qos = message.forceQos0 ? 0 : this.settings.qos;
    if (message.kind === 'telemetry') {
      this.plannedReadings += message.readingTs.length;
      stats.messagesSent += 1;
      stats.readingsSent += message.readingTs.length;
    } else {
      stats.badSent[message.kind] += 1;
    }
    this.pending += 1;
    stats.inflight += 1;
    const sentAt = performance.now();
    client.publish(message.topic, message.payload, { qos }, (error) => this.settled(message, qos, sentAt, error));
    if (message.kind === 'wrong-topic') {
      // The service will close the connection; sending more now would only lose it with the socket.
      this.awaitingKick = true;
      this.kickTimer = setTimeout(() => {
        this.kickTimer = undefined;
        this.awaitingKick = false;
        this.pump();
      }, KICK_WAIT_MS);
    }
  }

  private settled(message: OutgoingMessage, qos: 0 | 1, sentAt: number, error: Error | null | undefined): void {
    const { stats, ledger } = this.context;
    this.pending -= 1;
    stats.inflight -= 1;
    if (error) {
      if (this.closing) {
        stats.unacked += 1;
      } else {
        stats.errors += 1;
        stats.lastError = `${this.settings.id}: ${error.message}`;
      }
    } else if (message.kind !== 'telemetry') {
      if (qos === 1) stats.badAcked += 1;
    } else {
      ledger.add(this.settings.id, message.readingTs);
      if (qos === 1) stats.recordAck(message.readingTs.length, performance.now() - sentAt);
    }
    this.context.onProgress();
    if (this.sendTimer === undefined && this.canSend()) this.pump();
  }

  private clearTimer(which: 'send' | 'reconnect' | 'kick'): void {
    const key = `${which}Timer` as const;
    const timer = this[key];
    if (timer !== undefined) clearTimeout(timer);
    this[key] = undefined;
  }
}
