// Where SIGHUP reaches the brokers: main.ts calls `reloadTlsEverywhere` on the signal, and every
// running broker registers how it reloads its TLS files (and logs the outcome). A registry keeps
// main.ts free of the service's objects and the command layer free of signals.
const reloaders = new Set<() => void>();

/** Registers `reload`; returns the function that unregisters it (call it when the broker closes). */
export function registerTlsReload(reload: () => void): () => void {
  reloaders.add(reload);
  return () => reloaders.delete(reload);
}

/** Reloads the TLS files of every running broker; each reports its own outcome. */
export function reloadTlsEverywhere(): void {
  for (const reload of reloaders) reload();
}
