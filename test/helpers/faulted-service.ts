// The service in-process, writing to a real dynalite through the fault proxy: the set-up of every
// test that injects storage faults, started in order and stopped in reverse.
import { startDynalite } from './dynamo-servers.ts';
import type { DynamoServer } from './dynamo-servers.ts';
import { startFaultProxy } from './fault-proxy.ts';
import type { FaultProxy, FaultProxyOptions } from './fault-proxy.ts';
import { startTestService } from './service.ts';
import type { TestService } from './service.ts';

export interface FaultedService {
  readonly dynamo: DynamoServer;
  readonly proxy: FaultProxy;
  readonly svc: TestService;
  /** Stops the service, then the proxy, then dynalite. */
  stop(): Promise<void>;
}

export async function startFaultedService(overrides: Parameters<typeof startTestService>[1] = {}, proxyOptions: FaultProxyOptions = {}): Promise<FaultedService> {
  const dynamo = await startDynalite();
  let proxy: FaultProxy | undefined;
  try {
    proxy = await startFaultProxy(dynamo.endpoint, proxyOptions);
    const svc = await startTestService(proxy.endpoint, overrides);
    const started = proxy;
    return {
      dynamo,
      proxy: started,
      svc,
      async stop() {
        await svc.stop();
        await started.stop();
        await dynamo.stop();
      },
    };
  } catch (err) {
    await proxy?.stop();
    await dynamo.stop();
    throw err;
  }
}
