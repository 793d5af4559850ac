// Follows MQTT packet boundaries in the raw byte stream of one connection, reading only each fixed
// header, so that a packet announcing more than the limit is refused from its remaining-length field
// before its body is buffered (mqtt-packet's parser would buffer all of it, up to 256 MiB). It also
// reads the protocol level of the first CONNECT so that a level the parser does not know gets the
// CONNACK 1 that MQTT 3.1.1 asks for instead of a silent close.
export type FrameVerdict =
  | { readonly ok: true }
  | { readonly ok: false; readonly reason: 'packet_bytes' | 'malformed' | 'protocol_level' };

const OK: FrameVerdict = { ok: true };
const CONNECT = 0x10;
/** Levels mqtt-packet parses: 3 (3.1), 4 (3.1.1) and 5; aedes answers 5 with CONNACK 1 itself. */
const PARSED_LEVELS = new Set([3, 4, 5]);

const State = { Header: 0, Length: 1, Body: 2 } as const;
type State = (typeof State)[keyof typeof State];

export class PacketFramer {
  private state: State = State.Header;
  private length = 0;
  private multiplier = 1;
  private lengthBytes = 0;
  private bodyLeft = 0;
  private packets = 0;
  /** The first bytes of the first packet's body, while it is a CONNECT whose level is unread. */
  private connectHead: number[] | undefined;
  private firstIsConnect = false;

  /**
   * @param maxPacketBytes largest remaining length (variable header + payload) of any packet
   * @param maxFirstPacketBytes largest remaining length of the first packet (CONNECT): smaller, as
   *   a client that has not yet said who it is should not make the broker buffer much
   */
  constructor(
    private readonly maxPacketBytes: number,
    private readonly maxFirstPacketBytes: number,
  ) {}

  /** Bytes of the packet being received that are still to come (0 at a packet boundary). */
  get pendingBodyBytes(): number {
    return this.state === State.Body ? this.bodyLeft : 0;
  }

  feed(buf: Buffer): FrameVerdict {
    let i = 0;
    while (i < buf.length) {
      switch (this.state) {
        case State.Header: {
          this.firstIsConnect = this.packets === 0 && buf[i] === CONNECT;
          this.state = State.Length;
          this.length = 0;
          this.multiplier = 1;
          this.lengthBytes = 0;
          i += 1;
          break;
        }
        case State.Length: {
          const byte = buf[i] as number;
          i += 1;
          this.length += (byte & 0x7f) * this.multiplier;
          this.multiplier *= 128;
          this.lengthBytes += 1;
          if (byte & 0x80) {
            if (this.lengthBytes === 4) return { ok: false, reason: 'malformed' };
            break;
          }
          const max = this.packets === 0 ? this.maxFirstPacketBytes : this.maxPacketBytes;
          if (this.length > max) return { ok: false, reason: 'packet_bytes' };
          this.bodyLeft = this.length;
          this.connectHead = this.firstIsConnect ? [] : undefined;
          this.endPacketIfDone();
          break;
        }
        case State.Body: {
          const take = Math.min(this.bodyLeft, buf.length - i);
          if (this.connectHead !== undefined) {
            const verdict = this.readConnectHead(buf, i, take);
            if (!verdict.ok) return verdict;
          }
          this.bodyLeft -= take;
          i += take;
          this.endPacketIfDone();
          break;
        }
      }
    }
    return OK;
  }

  private endPacketIfDone(): void {
    if (this.bodyLeft > 0) {
      this.state = State.Body;
      return;
    }
    this.state = State.Header;
    this.packets += 1;
    this.connectHead = undefined;
  }

  /** Collects the protocol name and level of the first CONNECT: 00 04 'MQTT' level, or 00 06 'MQIsdp' level. */
  private readConnectHead(buf: Buffer, start: number, take: number): FrameVerdict {
    const head = this.connectHead as number[];
    for (let j = start; j < start + take && head.length < 9; j++) head.push(buf[j] as number);
    if (head.length < 2) return OK;
    const nameLength = ((head[0] as number) << 8) | (head[1] as number);
    if (nameLength !== 4 && nameLength !== 6) {
      this.connectHead = undefined; // not a name we know: the parser refuses it
      return OK;
    }
    if (head.length < 2 + nameLength + 1) return OK;
    const level = (head[2 + nameLength] as number) & 0x7f;
    this.connectHead = undefined;
    return PARSED_LEVELS.has(level) ? OK : { ok: false, reason: 'protocol_level' };
  }
}
