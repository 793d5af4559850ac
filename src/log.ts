// pino, JSON lines on stderr (stdout stays free for command output). Components get child loggers.
import { pino } from 'pino';
import type { Logger } from 'pino';

export function createLogger(level: string, destination: NodeJS.WritableStream = process.stderr): Logger {
  return pino({ level, base: { service: 'iot-ingest' } }, destination);
}
