import { defineConfig } from 'vitest/config';

// Two projects: pure/unit tests run without any external process; integration tests share one
// real control plane (kube-apiserver + etcd) started by the global setup.
export default defineConfig({
  test: {
    projects: [
      {
        test: {
          name: 'unit',
          include: ['{api,operator,gateway,cli,kube,charts,controlplane,image,ui}/**/*.test.ts'],
        },
      },
      {
        test: {
          name: 'integration',
          include: ['test/**/*.test.ts'],
          globalSetup: ['test/global-setup.ts'],
          testTimeout: 120_000,
          hookTimeout: 900_000,
          fileParallelism: false,
        },
      },
    ],
  },
});
