/**
 * Lease-based leader election (coordination.k8s.io/v1), with client-go's timings: a leader renews its
 * Lease every `retryPeriod`; a candidate takes a Lease not renewed for `leaseDuration`; a leader that
 * cannot renew within `renewDeadline` steps down. Times are RFC 3339 with microseconds (MicroTime).
 */
import { hostname } from 'node:os';
import type { Logger } from '../logger.ts';
import { ApiError, isConflict, isNotFound, type KubeClient } from './kube-client.ts';

export interface LeaderElectionOptions {
  namespace: string;
  name: string;
  identity?: string;
  leaseDurationMs?: number;
  renewDeadlineMs?: number;
  retryPeriodMs?: number;
  logger: Logger;
}

interface Lease {
  metadata: { name: string; namespace: string; resourceVersion?: string };
  spec: {
    holderIdentity?: string;
    leaseDurationSeconds?: number;
    acquireTime?: string;
    renewTime?: string;
    leaseTransitions?: number;
  };
}

const microTime = (d = new Date()) => d.toISOString().replace(/Z$/, '000Z');

export class LeaderElector {
  readonly identity: string;
  private readonly client: KubeClient;
  private readonly opts: Required<Omit<LeaderElectionOptions, 'identity'>>;
  private leading = false;
  private stopped = false;

  constructor(client: KubeClient, opts: LeaderElectionOptions) {
    this.client = client;
    this.identity = opts.identity ?? `${hostname()}_${process.pid}`;
    this.opts = { leaseDurationMs: 15_000, renewDeadlineMs: 10_000, retryPeriodMs: 2_000, ...opts };
  }

  get isLeader(): boolean {
    return this.leading;
  }

  private get path(): string {
    return `/apis/coordination.k8s.io/v1/namespaces/${this.opts.namespace}/leases/${this.opts.name}`;
  }

  /** Resolves once this process leads; `onLost` is called if it ever stops leading. */
  async acquire(onLost: () => void): Promise<void> {
    while (!this.stopped && !(await this.tryAcquireOrRenew())) await sleep(this.opts.retryPeriodMs);
    if (this.stopped) return;
    this.leading = true;
    this.opts.logger.info('became leader', { lease: this.opts.name, identity: this.identity });
    void this.renewLoop(onLost);
  }

  private async renewLoop(onLost: () => void): Promise<void> {
    let lastRenew = Date.now();
    while (!this.stopped) {
      await sleep(this.opts.retryPeriodMs);
      if (this.stopped) return;
      if (await this.tryAcquireOrRenew().catch(() => false)) {
        lastRenew = Date.now();
      } else if (Date.now() - lastRenew > this.opts.renewDeadlineMs) {
        this.leading = false;
        this.opts.logger.error('lost leadership', { lease: this.opts.name });
        onLost();
        return;
      }
    }
  }

  /** Gives the Lease up so another replica takes over at once. */
  async release(): Promise<void> {
    this.stopped = true;
    if (!this.leading) return;
    this.leading = false;
    try {
      const lease = await this.client.get<Lease>(this.path);
      if (lease.spec.holderIdentity !== this.identity) return;
      lease.spec.holderIdentity = '';
      lease.spec.leaseDurationSeconds = 1;
      lease.spec.renewTime = microTime();
      await this.client.request('PUT', this.path, { body: lease });
    } catch (error) {
      this.opts.logger.warn('could not release the lease', { error });
    }
  }

  private async tryAcquireOrRenew(): Promise<boolean> {
    const now = new Date();
    const durationSeconds = Math.ceil(this.opts.leaseDurationMs / 1000);
    let lease: Lease;
    try {
      lease = await this.client.get<Lease>(this.path);
    } catch (error) {
      if (!isNotFound(error)) throw error;
      try {
        await this.client.request('POST', this.path.replace(/\/[^/]+$/, ''), {
          body: {
            apiVersion: 'coordination.k8s.io/v1',
            kind: 'Lease',
            metadata: { name: this.opts.name, namespace: this.opts.namespace },
            spec: {
              holderIdentity: this.identity,
              leaseDurationSeconds: durationSeconds,
              acquireTime: microTime(now),
              renewTime: microTime(now),
              leaseTransitions: 0,
            },
          },
        });
        return true;
      } catch (e) {
        if (e instanceof ApiError && e.status === 409) return false;
        throw e;
      }
    }
    const holder = lease.spec.holderIdentity;
    const renewed = lease.spec.renewTime ? Date.parse(lease.spec.renewTime) : 0;
    const expired = renewed + (lease.spec.leaseDurationSeconds ?? durationSeconds) * 1000 < now.getTime();
    if (holder && holder !== this.identity && !expired) return false;
    const transitions = (lease.spec.leaseTransitions ?? 0) + (holder === this.identity ? 0 : 1);
    lease.spec = {
      holderIdentity: this.identity,
      leaseDurationSeconds: durationSeconds,
      acquireTime: holder === this.identity ? lease.spec.acquireTime : microTime(now),
      renewTime: microTime(now),
      leaseTransitions: transitions,
    };
    try {
      await this.client.request('PUT', this.path, { body: lease });
      return true;
    } catch (error) {
      if (isConflict(error)) return false;
      throw error;
    }
  }
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms).unref?.());
