// The few messages the primary and its workers exchange over node:cluster's IPC channel (metrics
// travel on prom-client's own messages beside these).
export const MESSAGE_TYPES = {
  state: 'iot-ingest:state',
  shutdown: 'iot-ingest:shutdown',
} as const;

/** Worker → primary, every 500 ms and when it starts draining. */
export interface WorkerState {
  readonly type: typeof MESSAGE_TYPES.state;
  readonly slot: number;
  readonly pid: number;
  readonly ready: boolean;
  readonly detail: Record<string, unknown>;
}

/** Primary → worker: stop accepting, flush, exit. */
export interface ShutdownMessage {
  readonly type: typeof MESSAGE_TYPES.shutdown;
}

export type PrimaryMessage = ShutdownMessage;

export function isWorkerState(message: unknown): message is WorkerState {
  return typeof message === 'object' && message !== null && (message as { type?: unknown }).type === MESSAGE_TYPES.state;
}

export function isPrimaryMessage(message: unknown): message is PrimaryMessage {
  return typeof message === 'object' && message !== null && (message as { type?: unknown }).type === MESSAGE_TYPES.shutdown;
}
