/**
 * Lease-based leader election (coordination.k8s.io/v1) with client-go's semantics (tools/leaderelection):
 *
 * - Expiry is judged on this process's own clock, never from the times in the record: a candidate notes
 *   when it last saw the record change (observedTime) and takes the Lease only once it has seen no
 *   change for the record's leaseDurationSeconds. Clock skew between replicas does not matter; only the
 *   rate at which clocks run does (leaseDuration / renewDeadline is the tolerated ratio). Local durations
 *   are measured on the monotonic clock, so a wall-clock jump does not matter either.
 * - The leader renews every retryPeriod; when it has not renewed for renewDeadline it steps down.
 * - acquireTime and leaseTransitions change only when the holder changes; a released Lease has no holder
 *   and leaseDurationSeconds 1 (ReleaseOnCancel), so a candidate takes it at once.
 *
 * Deviations from client-go, all towards stepping down sooner:
 * - renewDeadline is counted from the start of the last successful renewal, not from the start of the
 *   retry round that follows it (at most retryPeriod earlier).
 * - A leader that sees another holder steps down at once; client-go retries until renewDeadline.
 * - No optimistic fast path (an update from the cached record without a GET): every attempt reads.
 */
import { randomUUID } from 'node:crypto';
import { hostname } from 'node:os';
import type { Logger } from '@gco/common/logger';
import { isConflict, isNotFound, type KubeClient } from './kube-client.ts';
import { kubeMicroTime } from './time.ts';

export interface LeaderElectionOptions {
  namespace: string;
  name: string;
  identity?: string;
  /** How long candidates wait without seeing the record change before they take it (whole seconds). */
  leaseDurationMs?: number;
  /** How long the leader keeps trying to renew before it steps down. */
  renewDeadlineMs?: number;
  /** Between attempts to acquire or renew. */
  retryPeriodMs?: number;
  logger: Logger;
}

export interface LeaseSpec {
  holderIdentity?: string;
  leaseDurationSeconds?: number;
  acquireTime?: string;
  renewTime?: string;
  leaseTransitions?: number;
}

interface Lease {
  metadata: { name: string; namespace: string; resourceVersion?: string };
  spec?: LeaseSpec;
}

/** Why leadership ended. */
export type LostReason = 'RenewDeadlineExceeded' | 'AnotherHolder';

/** client-go's JitterFactor: acquire attempts come every retryPeriod * (1 + random * 1.2). */
const jitterFactor = 1.2;

/** client-go's defaults (LeaseDuration 15 s, RenewDeadline 10 s, RetryPeriod 2 s). */
export const leaderElectionDefaults = { leaseDurationMs: 15_000, renewDeadlineMs: 10_000, retryPeriodMs: 2_000 };

/** client-go's rules: leaseDuration > renewDeadline > retryPeriod * JitterFactor > 0. Throws what is wrong. */
export function validateTimings(t: { leaseDurationMs: number; renewDeadlineMs: number; retryPeriodMs: number }) {
  if (!(t.retryPeriodMs > 0)) throw new Error('retry period must be > 0');
  if (!(t.leaseDurationMs >= 1000) || t.leaseDurationMs % 1000 !== 0)
    throw new Error('lease duration must be whole seconds, >= 1');
  if (!(t.leaseDurationMs > t.renewDeadlineMs)) throw new Error('lease duration must be greater than renew deadline');
  if (!(t.renewDeadlineMs > jitterFactor * t.retryPeriodMs))
    throw new Error(`renew deadline must be greater than retry period * ${jitterFactor}`);
}

/** The monotonic clock: local durations must not follow wall-clock steps. */
const monotonic = () => performance.now();

export class LeaderElector {
  readonly identity: string;
  private readonly client: KubeClient;
  private readonly opts: Required<Omit<LeaderElectionOptions, 'identity'>>;
  private readonly stopping = new AbortController();
  /** The record as last read or written, compared as JSON (client-go's observedRawRecord). */
  private observedRaw: string | undefined;
  private observedRecord: LeaseSpec = {};
  /** When (monotonic) the record was last seen to change or was written by us. */
  private observedTime = 0;
  private leading = false;
  private lost = false;
  /** The acquire loop, while it runs: release() waits for an attempt in flight. */
  private acquiring: Promise<boolean> | undefined;

  constructor(client: KubeClient, opts: LeaderElectionOptions) {
    this.client = client;
    // Unique per process, as controller-runtime's hostname_UUID: in a container the process is PID 1
    // every time, so a StatefulSet pod recreated under the same name (a force-deleted leader whose
    // process may still run) would otherwise take the old one's Lease for its own at once.
    this.identity = opts.identity ?? `${hostname()}_${randomUUID()}`;
    this.opts = { ...leaderElectionDefaults, ...opts };
    validateTimings(this.opts);
  }

  get isLeader(): boolean {
    return this.leading;
  }

  /** The holder this process last saw in the Lease ('' for none). */
  get observedHolder(): string {
    return this.observedRecord.holderIdentity ?? '';
  }

  private get path(): string {
    return `/apis/coordination.k8s.io/v1/namespaces/${this.opts.namespace}/leases/${this.opts.name}`;
  }

  /**
   * Resolves true once this process leads, false when stopped (release()) before that. While leading,
   * renews in the background; `onLost` is called once if leadership ends other than by release().
   */
  async acquire(onLost: (reason: LostReason) => void): Promise<boolean> {
    this.opts.logger.info('waiting for the lease', { lease: this.opts.name, identity: this.identity });
    this.acquiring = this.acquireLoop();
    if (!(await this.acquiring)) return false;
    this.opts.logger.info('became leader', { lease: this.opts.name, identity: this.identity });
    void this.renewLoop(onLost).catch((error: unknown) => {
      // A leader that no longer renews must not go on as one.
      this.opts.logger.error('leader election: the renew loop failed', { lease: this.opts.name, error });
      this.leading = false;
      this.lost = true;
      onLost('RenewDeadlineExceeded');
    });
    return true;
  }

  private async acquireLoop(): Promise<boolean> {
    const signal = this.stopping.signal;
    for (;;) {
      if (signal.aborted) return false;
      if (await this.attempt(AbortSignal.any([signal, AbortSignal.timeout(this.opts.renewDeadlineMs)]))) {
        this.leading = true;
        return !signal.aborted;
      }
      await sleep(this.opts.retryPeriodMs * (1 + Math.random() * jitterFactor), signal);
    }
  }

  private async renewLoop(onLost: (reason: LostReason) => void): Promise<void> {
    const signal = this.stopping.signal;
    let renewed = this.observedTime;
    while (!signal.aborted) {
      // Not past the deadline: a leader that cannot renew steps down at it, not a retry period later.
      await sleep(Math.min(this.opts.retryPeriodMs, renewed + this.opts.renewDeadlineMs - monotonic()), signal);
      if (signal.aborted) return;
      const started = monotonic();
      const left = renewed + this.opts.renewDeadlineMs - started;
      // One attempt may take no longer than what is left of the deadline: a hung request must not keep
      // a leader that can no longer prove it leads.
      const ok = left > 0 && (await this.attempt(AbortSignal.any([signal, AbortSignal.timeout(Math.ceil(left))])));
      if (signal.aborted) return;
      if (ok) {
        renewed = started;
        continue;
      }
      const holder = this.observedHolder;
      const reason: LostReason | undefined =
        holder !== '' && holder !== this.identity
          ? 'AnotherHolder'
          : monotonic() >= renewed + this.opts.renewDeadlineMs
            ? 'RenewDeadlineExceeded'
            : undefined;
      if (!reason) continue;
      this.leading = false;
      this.lost = true;
      this.opts.logger.error('lost leadership', { lease: this.opts.name, identity: this.identity, reason, holder });
      onLost(reason);
      return;
    }
  }

  /**
   * Stops acquiring and renewing and, if this process still holds the Lease, clears its holder so that
   * a candidate takes over at once (client-go's ReleaseOnCancel). Call it only once nothing guarded by
   * the Lease runs any more.
   */
  async release(): Promise<void> {
    this.stopping.abort();
    await this.acquiring;
    this.leading = false;
    // Not after a loss (nothing may be written then), nor if this process never tried. Otherwise the
    // Lease is read even by a standby: an attempt cancelled in flight may still have taken it.
    if (this.lost || this.acquiring === undefined) return;
    const signal = AbortSignal.timeout(this.opts.renewDeadlineMs);
    for (;;) {
      try {
        const lease = await this.client.get<Lease>(this.path, { signal });
        // Decided from the record just read: another holder may have taken it meanwhile.
        if (lease.spec?.holderIdentity !== this.identity) return;
        const now = new Date();
        lease.spec = {
          leaseTransitions: lease.spec.leaseTransitions ?? 0,
          leaseDurationSeconds: 1,
          acquireTime: kubeMicroTime(now),
          renewTime: kubeMicroTime(now),
        };
        await this.client.request('PUT', this.path, { body: lease, signal });
        this.opts.logger.info('released the lease', { lease: this.opts.name, identity: this.identity });
        return;
      } catch (error) {
        // A conflict: a renewal of ours raced with this; read again.
        if (isConflict(error) && !signal.aborted) continue;
        this.opts.logger.warn('could not release the lease', { lease: this.opts.name, error });
        return;
      }
    }
  }

  private observe(spec: LeaseSpec): void {
    const raw = JSON.stringify(spec);
    if (raw === this.observedRaw) return;
    this.observedRaw = raw;
    this.observedRecord = spec;
    this.observedTime = monotonic();
  }

  /** client-go's tryAcquireOrRenew: true when this process holds the Lease after the call. */
  private async attempt(signal: AbortSignal): Promise<boolean> {
    try {
      return await this.tryAcquireOrRenew(signal);
    } catch (error) {
      if (!signal.aborted) this.opts.logger.warn('leader election: request failed', { lease: this.opts.name, error });
      return false;
    }
  }

  private async tryAcquireOrRenew(signal: AbortSignal): Promise<boolean> {
    const now = new Date();
    const durationSeconds = this.opts.leaseDurationMs / 1000;
    const mine: LeaseSpec = {
      holderIdentity: this.identity,
      leaseDurationSeconds: durationSeconds,
      acquireTime: kubeMicroTime(now),
      renewTime: kubeMicroTime(now),
    };
    let lease: Lease;
    try {
      lease = await this.client.get<Lease>(this.path, { signal });
    } catch (error) {
      if (!isNotFound(error)) throw error;
      const created = await this.client.request<Lease>('POST', this.path.replace(/\/[^/]+$/, ''), {
        body: {
          apiVersion: 'coordination.k8s.io/v1',
          kind: 'Lease',
          metadata: { name: this.opts.name, namespace: this.opts.namespace },
          spec: { ...mine, leaseTransitions: 0 },
        },
        signal,
      });
      this.observe(created.spec ?? {});
      return true;
    }
    const old = lease.spec ?? {};
    this.observe(old);
    const holder = old.holderIdentity ?? '';
    const heldByMe = holder === this.identity;
    const valid = monotonic() < this.observedTime + (old.leaseDurationSeconds ?? durationSeconds) * 1000;
    if (holder !== '' && !heldByMe && valid) return false;
    lease.spec = heldByMe
      ? { ...mine, acquireTime: old.acquireTime ?? mine.acquireTime, leaseTransitions: old.leaseTransitions ?? 0 }
      : { ...mine, leaseTransitions: (old.leaseTransitions ?? 0) + 1 };
    try {
      // The resourceVersion read above makes this a compare-and-swap: of two candidates, one wins.
      const updated = await this.client.request<Lease>('PUT', this.path, { body: lease, signal });
      this.observe(updated.spec ?? {});
      return true;
    } catch (error) {
      if (isConflict(error)) return false;
      throw error;
    }
  }
}

const sleep = (ms: number, signal: AbortSignal) =>
  new Promise<void>((resolve) => {
    if (signal.aborted) return resolve();
    const timer = setTimeout(done, ms);
    function done() {
      clearTimeout(timer);
      signal.removeEventListener('abort', done);
      resolve();
    }
    signal.addEventListener('abort', done, { once: true });
  });
