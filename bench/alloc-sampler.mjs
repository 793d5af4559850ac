// Preloaded into the service by `bench/profile.ts --alloc`: V8's sampling heap profiler on the main
// thread, counting every allocation (also those collected since), between two SIGUSR2 signals (the
// load window); the second one writes the profile to $IOT_INGEST_ALLOC_PROFILE. Bytes allocated per
// reading do not depend on how busy the machine is, unlike CPU time.
import { writeFileSync } from 'node:fs';
import { Session } from 'node:inspector';
import { isMainThread } from 'node:worker_threads';

const out = process.env.IOT_INGEST_ALLOC_PROFILE;
if (isMainThread && out) {
  const session = new Session();
  session.connect();
  let sampling = false;
  process.on('SIGUSR2', () => {
    if (!sampling) {
      sampling = true;
      session.post('HeapProfiler.startSampling', { samplingInterval: 4096, includeObjectsCollectedByMajorGC: true, includeObjectsCollectedByMinorGC: true });
      return;
    }
    session.post('HeapProfiler.stopSampling', (err, result) => {
      if (!err) writeFileSync(out, JSON.stringify(result.profile));
    });
  });
}
