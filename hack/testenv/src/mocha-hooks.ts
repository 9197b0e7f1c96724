/** Root hooks for every suite: whatever the tests started is stopped, whatever they made is removed. */
import { releaseSharedDocker } from './docker.ts';
import { stopSharedCluster, stopSharedControlPlane } from './shared.ts';
import { removeTempDirs } from './temp.ts';

export const mochaHooks = {
  async afterAll(this: { timeout(ms: number): void }) {
    this.timeout(90_000);
    await stopSharedCluster();
    await stopSharedControlPlane();
    await releaseSharedDocker();
    await removeTempDirs();
  },
};
