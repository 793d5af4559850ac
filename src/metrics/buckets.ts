// Histogram buckets shared by the components that own latency metrics.

/** Seconds buckets from 1 ms to 30 s: PUBACK, store and DynamoDB latencies all fall in here. */
export const LATENCY_BUCKETS_SECONDS = [0.001, 0.0025, 0.005, 0.01, 0.02, 0.035, 0.05, 0.075, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30];

/** Device clock to store: buffering devices and clock skew reach minutes or hours. */
export const DEVICE_LATENCY_BUCKETS_SECONDS = [0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 300, 3600];
