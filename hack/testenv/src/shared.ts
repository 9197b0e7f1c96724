/**
 * One control plane per test process, started on first use and stopped by the root hook in
 * mocha-hooks.ts: starting etcd and kube-apiserver costs seconds, so suites share it and isolate
 * themselves by namespace. Likewise one cluster with a real node (node.ts), for the suites that run pods.
 */
import { ControlPlane } from './control-plane.ts';
import { Cluster } from './node.ts';

let shared: Promise<ControlPlane> | undefined;
let sharedNode: Promise<Cluster> | undefined;

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

export function sharedCluster(): Promise<Cluster> {
  sharedNode ??= Cluster.start();
  return sharedNode;
}

export async function stopSharedCluster(): Promise<void> {
  if (!sharedNode) return;
  const cluster = await sharedNode.catch(() => undefined);
  sharedNode = undefined;
  await cluster?.stop();
}
