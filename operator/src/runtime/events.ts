/**
 * Records Kubernetes Events (core/v1) about an object, like client-go's recorder: repeats of the same
 * reason and message within a few minutes are folded into one Event with a count.
 */
import { randomBytes } from 'node:crypto';
import type { Logger } from '@gco/common/logger';
import type { KubeClient } from './kube-client.ts';
import type { KubeObject } from './resources.ts';
import { kubeTime } from './time.ts';

export type EventType = 'Normal' | 'Warning';

interface Recorded {
  name: string;
  count: number;
  first: string;
  at: number;
}

export class EventRecorder {
  private readonly client: KubeClient;
  private readonly component: string;
  private readonly logger: Logger;
  private readonly recent = new Map<string, Recorded>();

  constructor(client: KubeClient, component: string, logger: Logger) {
    this.client = client;
    this.component = component;
    this.logger = logger;
  }

  /** Never throws: an Event that cannot be written is logged, not fatal. */
  async record(obj: KubeObject, type: EventType, reason: string, message: string): Promise<void> {
    const namespace = obj.metadata.namespace ?? 'default';
    const key = `${obj.metadata.uid}|${type}|${reason}|${message}`;
    const now = kubeTime(new Date());
    const previous = this.recent.get(key);
    try {
      if (previous && Date.now() - previous.at < 10 * 60_000) {
        previous.count++;
        previous.at = Date.now();
        await this.client.request('PATCH', `/api/v1/namespaces/${namespace}/events/${previous.name}`, {
          body: { count: previous.count, lastTimestamp: now },
          contentType: 'application/merge-patch+json',
        });
        return;
      }
      const name = `${obj.metadata.name}.${randomBytes(8).toString('hex')}`;
      await this.client.request('POST', `/api/v1/namespaces/${namespace}/events`, {
        body: {
          apiVersion: 'v1',
          kind: 'Event',
          metadata: { name, namespace },
          involvedObject: {
            apiVersion: obj.apiVersion,
            kind: obj.kind,
            name: obj.metadata.name,
            namespace,
            uid: obj.metadata.uid,
            resourceVersion: obj.metadata.resourceVersion,
          },
          type,
          reason,
          message: message.slice(0, 1024),
          source: { component: this.component },
          reportingComponent: this.component,
          firstTimestamp: now,
          lastTimestamp: now,
          count: 1,
        },
      });
      this.recent.set(key, { name, count: 1, first: now, at: Date.now() });
      if (this.recent.size > 1000) this.recent.delete(this.recent.keys().next().value as string);
    } catch (error) {
      this.logger.warn('could not record an event', { reason, error });
    }
  }
}
