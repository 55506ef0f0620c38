// The whole product in one test process, as the end-to-end tests use it: the operator (injectable clock),
// a test upstream, and the gateway in front of it reading the operator's records and reporting usage.
import { pino } from 'pino';
import { runGateway, type RunningGateway } from '../../gateway/main.ts';
import { adminKubeConfig } from './cluster.ts';
import { startTestOperator, type TestClock, type TestOperator } from './operator.ts';
import { startUpstream, type TestUpstream } from './upstream.ts';

export interface Stack {
  op: TestOperator;
  upstream: TestUpstream;
  gw: RunningGateway;
  stop(): Promise<void>;
}

export async function startStack(o: {
  recordsNamespace: string;
  clock: TestClock;
  gatewayId: string;
  watchNamespace?: string;
  reportIntervalMs?: number;
}): Promise<Stack> {
  const op = await startTestOperator({
    recordsNamespace: o.recordsNamespace,
    clock: o.clock,
    ...(o.watchNamespace ? { watchNamespace: o.watchNamespace } : {}),
  });
  const upstream = await startUpstream();
  const gw = await runGateway({
    upstream: upstream.url,
    recordsNamespace: o.recordsNamespace,
    kubeConfig: adminKubeConfig(),
    listen: { host: '127.0.0.1', port: 0 },
    metricsPort: 0,
    gatewayId: o.gatewayId,
    logger: pino({ level: 'silent' }),
    ...(o.reportIntervalMs !== undefined ? { reportIntervalMs: o.reportIntervalMs } : {}),
  });
  await gw.synced;
  return {
    op,
    upstream,
    gw,
    stop: async () => {
      await gw.stop();
      await upstream.close();
      await op.stop();
    },
  };
}
