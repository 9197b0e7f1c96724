// Issue 7: one OpenTelemetry trace from reconcile to push across both processes, log lines that carry
// its ids, Prometheus metrics that move, and nothing exported when no OTEL_* variable is set.
import assert from 'node:assert/strict';
import { readdir } from 'node:fs/promises';
import { join } from 'node:path';
import { generatedFilePath, OtlpReceiver, type ReceivedSpan, runOk } from '@gco/testenv';
import {
  type Environment,
  getStatus,
  requestReconcile,
  retryingWith,
  startEnvironment,
  tokenSecret,
  waitReady,
  waitStatus,
} from '../support.ts';

const ns = 'git-change-operator-system';

/** One sample of a Prometheus text exposition: the value of `name` with exactly these labels. */
function sample(text: string, name: string, labels: Record<string, string> = {}): number | undefined {
  const wanted = Object.entries(labels)
    .map(([k, v]) => `${k}="${v}"`)
    .sort()
    .join(',');
  for (const line of text.split('\n')) {
    const m = /^([a-zA-Z_:][\w:]*)(?:\{(.*)\})? (\S+)$/.exec(line);
    if (!m || m[1] !== name) continue;
    const have = (m[2] ?? '')
      .split(/,(?=[a-zA-Z_]\w*=")/)
      .filter(Boolean)
      .sort()
      .join(',');
    if (have === wanted) return Number(m[3]);
  }
  return undefined;
}

async function metrics(port: number): Promise<string> {
  const res = await fetch(`http://127.0.0.1:${port}/metrics`);
  assert.equal(res.status, 200);
  assert.match(res.headers.get('content-type') ?? '', /^text\/plain; version=0\.0\.4/);
  return res.text();
}

const logLines = (text: string) =>
  text
    .split('\n')
    .filter((l) => l.startsWith('{'))
    .map((l) => JSON.parse(l) as Record<string, unknown>);

function gitCommit(name: string, url: string, spec: Record<string, unknown> = {}) {
  return {
    apiVersion: 'gco.galos.one/v1',
    kind: 'GitCommit',
    metadata: { name, namespace: ns },
    spec: {
      repository: { url, branch: 'main' },
      auth: { secretName: 'git-credentials' },
      commit: { author: 'Traced <traced@example.com>', message: 'Traced commit' },
      files: [{ path: 'traced.txt', content: 'hello\n' }],
      ...spec,
    },
  };
}

describe('observability: traces, logs and metrics', function () {
  this.timeout(180_000);

  describe('with OTEL_EXPORTER_OTLP_ENDPOINT set', () => {
    let receiver: OtlpReceiver;
    let env: Environment;

    before(async function () {
      this.timeout(180_000);
      receiver = await OtlpReceiver.start();
      env = await startEnvironment({
        env: {
          OTEL_EXPORTER_OTLP_ENDPOINT: receiver.url,
          // Export within a fraction of a second instead of the default 5 s.
          OTEL_BSP_SCHEDULE_DELAY: '100',
        },
      });
      await env.apply(tokenSecret('git-credentials', ns));
    });
    after(async () => {
      await env?.stop();
      await receiver?.close();
    });

    it('one execution is one trace, from the reconcile through the gRPC call to the push, in order', async () => {
      const repo = await env.repository('traced.git', { files: 3 });
      await env.apply(gitCommit('traced', repo.url));
      await waitReady(env, 'gitcommit', 'traced');
      const executionId = (await getStatus(env, 'gitcommit', 'traced')).executionHistory[0].id as string;

      const isExecution = (s: ReceivedSpan) =>
        s.name === 'execution' && s.attributes['gco.execution.id'] === executionId;
      let spans = await receiver.waitForSpans((all) => {
        const execution = all.find(isExecution);
        return !!execution && all.some((s) => s.traceId === execution.traceId && s.name === 'git push');
      });
      const execution = spans.find(isExecution) as ReceivedSpan;
      // The batch span ends after the push; wait until every span of the trace has arrived.
      spans = await receiver.waitForSpans((all) =>
        ['git batch', 'gco.sidecar.v1.GitSidecarService/Commit', `reconcile gitcommit`].every((n) =>
          all.some((s) => s.traceId === execution.traceId && s.name === n && s.kind !== 'CLIENT'),
        ),
      );
      const trace = spans.filter((s) => s.traceId === execution.traceId);
      const one = (name: string, kind?: string) => {
        const found = trace.filter((s) => s.name === name && (kind === undefined || s.kind === kind));
        assert.equal(found.length, 1, `one ${name} ${kind ?? ''} span in the trace: ${trace.map((s) => s.name)}`);
        return found[0] as ReceivedSpan;
      };
      const childOf = (child: ReceivedSpan, parent: ReceivedSpan) =>
        assert.equal(child.parentSpanId, parent.spanId, `${child.name} is a child of ${parent.name}`);

      const reconcile = one('reconcile gitcommit');
      assert.equal(reconcile.parentSpanId, undefined, 'the reconcile is the root');
      assert.equal(reconcile.serviceName, 'git-change-operator');
      assert.equal(reconcile.attributes['k8s.namespace.name'], ns);
      assert.equal(reconcile.attributes['gco.name'], 'traced');
      childOf(execution, reconcile);
      assert.equal(execution.attributes['gco.kind'], 'GitCommit');
      assert.equal(execution.attributes['gco.result'], 'Committed');
      childOf(one('read objects'), execution);
      childOf(one('render'), execution);
      const client = one('gco.sidecar.v1.GitSidecarService/Commit', 'CLIENT');
      childOf(client, execution);
      const server = one('gco.sidecar.v1.GitSidecarService/Commit', 'SERVER');
      assert.equal(server.serviceName, 'git-sidecar', 'the server span comes from the other process');
      childOf(server, client);
      assert.equal(server.attributes['gco.execution.id'], executionId);
      childOf(one('sidecar queue'), server);
      const batch = one('git batch');
      childOf(batch, server);
      assert.equal(batch.attributes['gco.batch.size'], 1);
      for (const phase of ['git clone', 'git fetch', 'git build', 'git push']) {
        const span = one(phase);
        childOf(span, batch);
        assert.equal(span.serviceName, 'git-sidecar');
        assert.ok(
          BigInt(span.startTimeUnixNano) >= BigInt(batch.startTimeUnixNano),
          `${phase} starts within the batch`,
        );
        assert.ok(BigInt(span.endTimeUnixNano) <= BigInt(batch.endTimeUnixNano), `${phase} ends within the batch`);
      }
      assert.ok(BigInt(server.endTimeUnixNano) <= BigInt(client.endTimeUnixNano), 'the call ends after the server');

      // The log lines of this execution carry its trace id, in both processes.
      const operatorLine = logLines(await env.operator.logs()).find(
        (l) => l.message === 'execution succeeded' && l.execution_id === executionId,
      );
      assert.ok(operatorLine, 'the operator logged the execution');
      assert.equal(operatorLine.trace_id, execution.traceId);
      assert.equal(operatorLine.span_id, execution.spanId);
      assert.equal(operatorLine.namespace, ns);
      assert.equal(operatorLine.name, 'traced');
      const sidecarLine = logLines(await env.sidecar.logs()).find(
        (l) => l.message === 'job done' && l.execution_id === executionId,
      );
      assert.ok(sidecarLine, 'the sidecar logged the job');
      assert.equal(sidecarLine.trace_id, execution.traceId);
      assert.deepEqual([sidecarLine.kind, sidecarLine.namespace, sidecarLine.name], ['GitCommit', ns, 'traced']);
      assert.equal(sidecarLine.span_id, server.spanId);
    });

    it('the attempts of a retried execution are one trace', async () => {
      const repo = await env.repository('retried.git', { files: 1 });
      await env.apply(
        gitCommit('retried', repo.url, {
          resourceReferences: [
            { name: 'late', apiVersion: 'v1', kind: 'ConfigMap', strategy: 'fields', output: { path: 'late/' } },
          ],
        }),
      );
      await waitStatus(env, 'gitcommit', 'retried', retryingWith('ResourceNotFound'));
      await env.apply({
        apiVersion: 'v1',
        kind: 'ConfigMap',
        metadata: { name: 'late', namespace: ns },
        data: { a: '1' },
      });
      await waitReady(env, 'gitcommit', 'retried');
      const id = (await getStatus(env, 'gitcommit', 'retried')).executionHistory[0].id as string;
      const attemptsOf = (all: ReceivedSpan[]) =>
        all.filter((s) => s.name === 'execution' && s.attributes['gco.execution.id'] === id);
      // However many attempts it took before the ConfigMap appeared: wait for the one that committed.
      const spans = attemptsOf(
        await receiver.waitForSpans((all) => attemptsOf(all).some((s) => s.attributes['gco.result'] === 'Committed')),
      ).sort((a, b) => Number(a.attributes['gco.execution.attempt']) - Number(b.attributes['gco.execution.attempt']));
      assert.ok(spans.length >= 2, `${spans.length} attempts`);
      assert.deepEqual(
        spans.map((s) => s.attributes['gco.execution.attempt']),
        spans.map((_, i) => i + 1),
      );
      for (const failed of spans.slice(0, -1))
        assert.equal(failed.attributes['gco.result'], 'Retrying: ResourceNotFound');
      assert.equal(spans.at(-1)?.attributes['gco.result'], 'Committed');
      assert.equal(new Set(spans.map((s) => s.traceId)).size, 1, 'all attempts are in one trace');
    });

    it('a failed push attempt shows as a retry span, and the metrics of both processes move', async () => {
      const repo = await env.repository('metered.git', { files: 3 });
      const [opBefore, scBefore] = [await metrics(env.operator.metricsPort), await metrics(env.sidecar.metricsPort)];
      // Appending to a file of the first commit makes git fetch its old content into the blobless clone.
      await env.apply(
        gitCommit('metered', repo.url, {
          writeMode: 'append',
          files: [{ path: generatedFilePath(0), content: 'appended\n' }],
        }),
      );
      await waitReady(env, 'gitcommit', 'metered');
      // Someone else moves the branch: the next optimistic push is rejected, fetched, and retried.
      const work = await runOk('mktemp', ['-d']);
      await runOk('git', ['clone', '--quiet', repo.gitDir, work.trim()]);
      await runOk('git', [
        '-C',
        work.trim(),
        '-c',
        'user.name=x',
        '-c',
        'user.email=x@x',
        'commit',
        '--quiet',
        '--allow-empty',
        '-m',
        'moved',
      ]);
      await runOk('git', ['-C', work.trim(), 'push', '--quiet', 'origin', 'HEAD:main']);
      await requestReconcile(env, 'gitcommit', 'metered', ns, 'again');
      await waitReady(env, 'gitcommit', 'metered');
      const status = await getStatus(env, 'gitcommit', 'metered');
      assert.equal(status.executionHistory.length, 2);

      const op = await metrics(env.operator.metricsPort);
      const moved = (text: string, before: string, name: string, labels: Record<string, string> = {}) => {
        const after = sample(text, name, labels);
        assert.ok(after !== undefined, `${name}${JSON.stringify(labels)} is exported`);
        const delta = after - (sample(before, name, labels) ?? 0);
        assert.ok(delta > 0, `${name}${JSON.stringify(labels)} moved (${delta})`);
        return delta;
      };
      // At least: resources other suites left behind on this control plane may execute meanwhile.
      assert.ok(moved(op, opBefore, 'gco_executions_total', { kind: 'GitCommit', result: 'Committed' }) >= 2);
      moved(op, opBefore, 'gco_execution_duration_seconds_count', { kind: 'GitCommit', result: 'success' });
      moved(op, opBefore, 'gco_workqueue_adds_total', { name: 'gitcommit' });
      moved(op, opBefore, 'gco_workqueue_queue_duration_seconds_count', { name: 'gitcommit' });
      moved(op, opBefore, 'gco_workqueue_work_duration_seconds_count', { name: 'gitcommit' });
      moved(op, opBefore, 'gco_reconcile_total', { controller: 'gitcommit', result: 'success' });
      assert.equal(sample(op, 'gco_workqueue_depth', { name: 'gitcommit' }), 0);
      assert.ok(sample(op, 'gco_workqueue_retries_total', { name: 'gitcommit' }) !== undefined);
      assert.equal(sample(op, 'gco_leader'), 1);
      assert.ok((sample(op, 'process_resident_memory_bytes') ?? 0) > 0, 'process metrics too');

      const sc = await metrics(env.sidecar.metricsPort);
      for (const phase of ['clone', 'fetch', 'build', 'push'])
        moved(sc, scBefore, 'gco_git_phase_duration_seconds_count', { phase });
      assert.ok(moved(sc, scBefore, 'gco_push_retries_total', { reason: 'branch-moved' }) >= 1);
      assert.ok(moved(sc, scBefore, 'gco_batch_jobs_count') >= 2);
      moved(sc, scBefore, 'gco_sidecar_queue_wait_seconds_count');
      assert.ok(moved(sc, scBefore, 'gco_sidecar_jobs_total', { result: 'committed' }) >= 2);
      assert.ok(moved(sc, scBefore, 'gco_lazy_blob_fetches_total') >= 1);
      // Every clone on disk, whatever other tests of this sidecar cloned before this one.
      const clones = (await readdir(join(env.sidecar.dataDir, 'clones'))).filter((c) => !c.startsWith('.'));
      assert.ok(clones.length >= 1);
      const scNow = await metrics(env.sidecar.metricsPort);
      assert.equal(sample(scNow, 'gco_clones'), clones.length, `the clones on disk: ${clones.join(' ')}`);
      assert.ok((sample(sc, 'gco_clone_cache_bytes') ?? 0) > 0);
      assert.match(sc, /^# TYPE gco_queue_depth gauge$/m);
      // Bounded cardinality: our metrics use only these labels (no object names, no URLs but the queue's;
      // `structure` names the sidecar's fixed set of held structures).
      const allowed = new Set([
        'kind',
        'result',
        'reason',
        'controller',
        'name',
        'phase',
        'repository',
        'structure',
        'le',
      ]);
      for (const text of [op, sc]) {
        for (const line of text.split('\n').filter((l) => l.startsWith('gco_') && l.includes('{'))) {
          for (const [, label] of line.matchAll(/[{,]([a-z_]+)="/g)) assert.ok(allowed.has(label as string), line);
        }
      }

      // The retried push is visible in the trace of the second execution.
      const id = status.executionHistory[0].id as string;
      const spans = await receiver.waitForSpans((all) => {
        const execution = all.find((s) => s.name === 'execution' && s.attributes['gco.execution.id'] === id);
        return !!execution && all.filter((s) => s.traceId === execution.traceId && s.name === 'git push').length >= 2;
      });
      const traceId = spans.find((s) => s.attributes['gco.execution.id'] === id)?.traceId;
      const pushes = spans.filter((s) => s.traceId === traceId && s.name === 'git push');
      assert.deepEqual(
        pushes.map((s) => s.attributes['gco.push.rejected']).sort(),
        ['branch-moved', undefined].sort(),
        'one rejected push, then one that went through',
      );
    });
  });

  describe('with no OTEL_* variable set', () => {
    let receiver: OtlpReceiver;
    let env: Environment;

    before(async function () {
      this.timeout(180_000);
      // Where an OTLP/HTTP exporter sends by default: anything exported by mistake would land here.
      receiver = await OtlpReceiver.start({ port: 4318 }).catch((error: Error) => {
        throw new Error(
          `this test listens on 127.0.0.1:4318, where OTLP/HTTP exporters send by default, to catch stray exports; ` +
            `stop whatever holds that port (a local collector?): ${error.message}`,
        );
      });
      // Whatever this machine sets is unset for both processes (spawn leaves out undefined values).
      const unset = Object.fromEntries(
        Object.keys(process.env)
          .filter((k) => k.startsWith('OTEL_'))
          .map((k) => [k, undefined]),
      );
      env = await startEnvironment({ env: unset });
      await env.apply(tokenSecret('git-credentials', ns));
    });
    after(async () => {
      await env?.stop();
      await receiver?.close();
    });

    it('exports nothing, while logs and metrics work as before', async () => {
      const repo = await env.repository('untraced.git', { files: 2 });
      await env.apply(gitCommit('untraced', repo.url));
      await waitReady(env, 'gitcommit', 'untraced');
      await env.operator.stop();
      await env.sidecar.stop();
      assert.equal(receiver.requests(), 0, 'nothing reached the default OTLP endpoint');
      for (const logs of [await env.operator.logs(), await env.sidecar.logs()]) {
        const lines = logLines(logs);
        assert.ok(
          lines.some((l) => l.tracing === false),
          'each process says tracing is off',
        );
        assert.ok(!lines.some((l) => 'trace_id' in l), 'no line carries a trace id');
      }
    });
  });
});
