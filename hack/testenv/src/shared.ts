/**
 * One control plane per test process, started on first use and stopped by the root hook in
 * mocha-hooks.ts: starting etcd and kube-apiserver costs seconds, so suites share it and isolate
 * themselves by namespace.
 */
import { ControlPlane } from './control-plane.ts';

let shared: Promise<ControlPlane> | undefined;

export function sharedControlPlane(): Promise<ControlPlane> {
  shared ??= ControlPlane.start();
  return shared;
}

export async function stopSharedControlPlane(): Promise<void> {
  if (!shared) return;
  const plane = await shared.catch(() => undefined);
  shared = undefined;
  await plane?.stop();
}
