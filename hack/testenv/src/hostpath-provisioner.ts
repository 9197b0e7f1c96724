/**
 * Dynamic provisioning for the test node, as a user's cluster has it: a default StorageClass whose
 * claims (volumeClaimTemplates included) get a hostPath PersistentVolume in the node's directory, made
 * when the PV controller hands the claim to this provisioner and removed with its data once released.
 * On demand rather than a pool of pre-made volumes, so any number of claims of any size bind, as with a
 * real provisioner, and nothing outlives its claim. A loop of the test process, driven by watches.
 */
import { chmod, mkdir, rm } from 'node:fs/promises';
import { join } from 'node:path';
import * as k8s from '@kubernetes/client-node';
import { statusCode } from './control-plane.ts';

export const hostPathProvisionerName = 'gco.local/hostpath';
const provisionerAnnotation = 'volume.kubernetes.io/storage-provisioner';
const provisionedByAnnotation = 'pv.kubernetes.io/provisioned-by';

export class HostPathProvisioner {
  private readonly kubeConfig: k8s.KubeConfig;
  /** Where the volumes' directories go (on the node's file system, which is this machine's). */
  private readonly dir: string;
  readonly storageClassName: string;
  private readonly core: k8s.CoreV1Api;
  private readonly informers: Array<k8s.Informer<k8s.KubernetesObject>> = [];
  private stopped = false;
  /** Failures of the last attempts, for the error of a test that waits on a claim in vain. */
  readonly errors: string[] = [];

  constructor(kubeConfig: k8s.KubeConfig, dir: string, storageClassName: string) {
    this.kubeConfig = kubeConfig;
    this.dir = dir;
    this.storageClassName = storageClassName;
    this.core = kubeConfig.makeApiClient(k8s.CoreV1Api);
  }

  async start(): Promise<void> {
    await mkdir(this.dir, { recursive: true });
    const storage = this.kubeConfig.makeApiClient(k8s.StorageV1Api);
    await storage.createStorageClass({
      body: {
        metadata: {
          name: this.storageClassName,
          annotations: { 'storageclass.kubernetes.io/is-default-class': 'true' },
        },
        provisioner: hostPathProvisionerName,
        reclaimPolicy: 'Delete',
        // One node: nothing to wait for before choosing where the volume lives.
        volumeBindingMode: 'Immediate',
      },
    });
    const claims = k8s.makeInformer(this.kubeConfig, '/api/v1/persistentvolumeclaims', () =>
      this.core.listPersistentVolumeClaimForAllNamespaces(),
    );
    const onClaim = (claim: k8s.V1PersistentVolumeClaim) => void this.provision(claim);
    claims.on('add', onClaim);
    claims.on('update', onClaim);
    const volumes = k8s.makeInformer(this.kubeConfig, '/api/v1/persistentvolumes', () =>
      this.core.listPersistentVolume(),
    );
    const onVolume = (volume: k8s.V1PersistentVolume) => void this.reclaim(volume);
    volumes.on('add', onVolume);
    volumes.on('update', onVolume);
    for (const informer of [claims, volumes] as Array<k8s.Informer<k8s.KubernetesObject>>) {
      // client-node's informer stops on an error; as a reflector would, start over after a pause.
      informer.on('error', () => {
        if (!this.stopped) setTimeout(() => void informer.start().catch(() => {}), 1000);
      });
      this.informers.push(informer);
      await informer.start();
    }
  }

  async stop(): Promise<void> {
    this.stopped = true;
    await Promise.all(this.informers.map((i) => i.stop()));
  }

  private async provision(claim: k8s.V1PersistentVolumeClaim): Promise<void> {
    if (claim.metadata?.annotations?.[provisionerAnnotation] !== hostPathProvisionerName) return;
    if (claim.spec?.volumeName || claim.status?.phase !== 'Pending') return;
    const name = `pvc-${claim.metadata.uid}`;
    const path = join(this.dir, name);
    try {
      await mkdir(path, { recursive: true });
      // Pods run as any uid (65532 here) and fsGroup does not apply to hostPath volumes.
      await chmod(path, 0o777);
      await this.core.createPersistentVolume({
        body: {
          metadata: { name, annotations: { [provisionedByAnnotation]: hostPathProvisionerName } },
          spec: {
            storageClassName: this.storageClassName,
            capacity: { storage: claim.spec?.resources?.requests?.storage ?? '1Gi' },
            accessModes: claim.spec?.accessModes ?? ['ReadWriteOnce'],
            persistentVolumeReclaimPolicy: 'Delete',
            volumeMode: claim.spec?.volumeMode ?? 'Filesystem',
            hostPath: { path, type: 'Directory' },
            claimRef: {
              apiVersion: 'v1',
              kind: 'PersistentVolumeClaim',
              namespace: claim.metadata.namespace,
              name: claim.metadata.name,
              uid: claim.metadata.uid,
            },
          },
        },
      });
    } catch (error) {
      if (statusCode(error) !== 409) this.errors.push(`provisioning ${name}: ${String(error)}`);
    }
  }

  private async reclaim(volume: k8s.V1PersistentVolume): Promise<void> {
    if (volume.metadata?.annotations?.[provisionedByAnnotation] !== hostPathProvisionerName) return;
    if (volume.status?.phase !== 'Released' || volume.spec?.persistentVolumeReclaimPolicy !== 'Delete') return;
    const path = volume.spec.hostPath?.path;
    try {
      if (path?.startsWith(`${this.dir}/`)) await rm(path, { recursive: true, force: true });
      await this.core.deletePersistentVolume({ name: volume.metadata.name ?? '' });
    } catch (error) {
      if (statusCode(error) !== 404) this.errors.push(`reclaiming ${volume.metadata.name}: ${String(error)}`);
    }
  }
}
