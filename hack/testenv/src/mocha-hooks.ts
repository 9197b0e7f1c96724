/** Root hooks for every suite: whatever the tests started is stopped, whatever they made is removed. */
import { stopSharedCluster, stopSharedControlPlane } from './shared.ts';
import { removeTempDirs } from './temp.ts';

export const mochaHooks = {
  async afterAll(this: { timeout(ms: number): void }) {
    this.timeout(60_000);
    await stopSharedCluster();
    await stopSharedControlPlane();
    await removeTempDirs();
  },
};
