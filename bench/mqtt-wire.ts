// Just enough MQTT 3.1.1 on the wire for a load generator: CONNECT and QoS 1 PUBLISH encoded by
// hand, and a reader that splits a byte stream into packets (CONNACK, PUBACK). Hand-encoding keeps
// the generator's CPU per message small; it shares the machine's cores with the server it measures.

export const PACKET_TYPE = { CONNACK: 2, PUBLISH: 3, PUBACK: 4, PINGRESP: 13 } as const;

/** MQTT's variable-length "remaining length" (1-4 bytes, 7 bits each, low group first). */
export function encodeRemainingLength(length: number): Buffer {
  const bytes: number[] = [];
  let n = length;
  do {
    let byte = n % 128;
    n = Math.floor(n / 128);
    if (n > 0) byte |= 0x80;
    bytes.push(byte);
  } while (n > 0);
  return Buffer.from(bytes);
}

function u16(n: number): Buffer {
  const b = Buffer.allocUnsafe(2);
  b.writeUInt16BE(n, 0);
  return b;
}

/** A length-prefixed UTF-8 string field. */
function utf8Field(text: string): Buffer {
  const b = Buffer.from(text, 'utf8');
  return Buffer.concat([u16(b.length), b]);
}

/** CONNECT, protocol level 4 (3.1.1), clean session; username and password when given. */
export function encodeConnect(clientId: string, keepaliveSeconds: number, credentials?: { readonly username: string; readonly password?: string | undefined }): Buffer {
  const flags = 0x02 | (credentials ? 0x80 : 0) | (credentials?.password !== undefined ? 0x40 : 0);
  const variableHeader = Buffer.from([0x00, 0x04, 0x4d, 0x51, 0x54, 0x54, 0x04, flags, keepaliveSeconds >> 8, keepaliveSeconds & 0xff]);
  const payload = [utf8Field(clientId)];
  if (credentials) payload.push(utf8Field(credentials.username));
  if (credentials?.password !== undefined) payload.push(utf8Field(credentials.password));
  const body = Buffer.concat([variableHeader, ...payload]);
  return Buffer.concat([Buffer.from([0x10]), encodeRemainingLength(body.length), body]);
}

export interface PublishTemplate {
  /** A complete PUBLISH packet (QoS 1, packet id 0): copy it, then patch the id and payload fields. */
  readonly packet: Buffer;
  readonly packetIdOffset: number;
  readonly payloadOffset: number;
}

/** A QoS 1 PUBLISH packet for `topic` and `payload`, with offsets for patching copies in place. */
export function encodePublishQos1Template(topic: string, payload: Buffer): PublishTemplate {
  const topicBytes = Buffer.from(topic, 'utf8');
  const remaining = 2 + topicBytes.length + 2 + payload.length;
  const fixedHeader = Buffer.concat([Buffer.from([0x32]), encodeRemainingLength(remaining)]);
  const packet = Buffer.concat([fixedHeader, u16(topicBytes.length), topicBytes, u16(0), payload]);
  const packetIdOffset = fixedHeader.length + 2 + topicBytes.length;
  return { packet, packetIdOffset, payloadOffset: packetIdOffset + 2 };
}

export type PacketHandler = (type: number, body: Buffer) => void;

/** Splits a TCP byte stream into MQTT packets; keeps an incomplete tail until the next chunk. */
export class PacketReader {
  private pending: Buffer | undefined;

  constructor(private readonly onPacket: PacketHandler) {}

  push(chunk: Buffer): void {
    const buf = this.pending ? Buffer.concat([this.pending, chunk]) : chunk;
    this.pending = undefined;
    let pos = 0;
    while (buf.length - pos >= 2) {
      let length = 0;
      let multiplier = 1;
      let i = pos + 1;
      let complete = false;
      while (i < buf.length && i < pos + 5) {
        const byte = buf[i++] as number;
        length += (byte & 0x7f) * multiplier;
        multiplier *= 128;
        if ((byte & 0x80) === 0) {
          complete = true;
          break;
        }
      }
      if (!complete) {
        if (i >= pos + 5) throw new Error('malformed MQTT remaining length');
        break;
      }
      if (buf.length - i < length) break;
      this.onPacket((buf[pos] as number) >> 4, buf.subarray(i, i + length));
      pos = i + length;
    }
    if (pos < buf.length) this.pending = Buffer.from(buf.subarray(pos));
  }
}
