// The bench drives thousands of connections and messages from one address (loopback). The
// service's per-address and per-device limits (sane for a fleet on the internet) would measure the
// limits instead of the pipeline, so every bench server raises them; the limits' own cost stays in.
export const BENCH_LIMIT_FLAGS: readonly string[] = [
  '--max-connections', '100000',
  '--max-connections-per-ip', '100000',
  '--max-connects-per-ip-per-second', '100000',
  '--max-messages-per-second', '1000000',
  '--max-readings-per-second', '1000000',
];
