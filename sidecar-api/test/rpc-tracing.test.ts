// One trace across the Unix socket: a client process and a server process, each set up from OTEL_*
// variables as the controller and the sidecar are, calling each other through this package's interceptors.
import assert from 'node:assert/strict';
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { OtlpReceiver, type ReceivedSpan, run, startProcess, tempDir, waitFor } from '@gco/testenv';

const fixture = join(import.meta.dirname, 'fixtures/traced-call.ts');

/** JSON log lines among a process's output. */
function logLines(text: string): Record<string, unknown>[] {
  return text
    .split('\n')
    .filter((l) => l.startsWith('{"time"'))
    .map((l) => JSON.parse(l) as Record<string, unknown>);
}

/** A server process and a client process calling it over a Unix socket, with only `env` as OTEL_* settings. */
async function tracedCall(env: Record<string, string>) {
  const dir = await tempDir('gco-telemetry-');
  const socket = join(dir, 's.sock');
  const childEnv = {
    ...Object.fromEntries(Object.entries(process.env).filter(([k]) => !k.startsWith('OTEL_'))),
    ...env,
  };
  const serverLog = join(dir, 'server.log');
  const server = startProcess(process.execPath, [fixture, 'server', socket], serverLog, { env: childEnv });
  const logs = () => readFile(serverLog, 'utf8').catch(() => '');
  try {
    await waitFor(async () => /^ready$/m.test(await logs()), {
      timeoutMs: 20_000,
      describe: async () => `the fixture server did not start:\n${await logs()}`,
    });
    const client = await run(process.execPath, [fixture, 'client', socket], { env: childEnv, timeoutMs: 20_000 });
    assert.equal(client.code, 0, client.stderr);
    return { enabled: (JSON.parse(client.stdout) as { enabled: boolean }).enabled, client, server, logs };
  } finally {
    // SIGTERM: the server flushes its spans before it exits.
    await server.stop(10_000);
  }
}

describe('telemetry', function () {
  this.timeout(60_000);

  describe('tracing across the socket', () => {
    let receiver: OtlpReceiver;
    beforeEach(async () => {
      receiver = await OtlpReceiver.start();
    });
    afterEach(async () => {
      await receiver.close();
    });

    it('puts the client and the server process in one trace, with the ids in their log lines', async () => {
      const { enabled, client, logs } = await tracedCall({ OTEL_EXPORTER_OTLP_ENDPOINT: receiver.url });
      assert.equal(enabled, true);
      const spans = await receiver.waitForSpans((s) => s.length >= 7, 15_000);
      const one = (predicate: (s: ReceivedSpan) => boolean, what: string) => {
        const found = spans.filter(predicate);
        assert.equal(found.length, 1, `${what} in ${JSON.stringify(spans, null, 1)}`);
        return found[0]!;
      };
      const health = 'gco.sidecar.v1.GitSidecarService/Health';
      const resolve = 'gco.sidecar.v1.GitSidecarService/ResolveDefaultBranch';
      const root = one((s) => s.name === 'fixture.reconcile', 'the root span');
      const clientSpan = one((s) => s.name === health && s.kind === 'CLIENT', 'the CLIENT span');
      const serverSpan = one((s) => s.name === health && s.kind === 'SERVER', 'the SERVER span');
      const work = one((s) => s.name === 'fixture.handler-work', "the handler's span");
      const failing = one((s) => s.name === 'fixture.failing-step', 'the failing span');

      assert.equal(root.parentSpanId, undefined);
      for (const span of [clientSpan, serverSpan, work, failing]) assert.equal(span.traceId, root.traceId);
      assert.equal(clientSpan.parentSpanId, root.spanId);
      assert.equal(serverSpan.parentSpanId, clientSpan.spanId);
      assert.equal(work.parentSpanId, serverSpan.spanId);
      assert.equal(failing.parentSpanId, serverSpan.spanId);
      assert.equal(clientSpan.serviceName, 'gco-fixture-client');
      assert.equal(serverSpan.serviceName, 'gco-fixture-server');
      assert.equal(serverSpan.scopeName, 'git-change-operator');
      for (const span of [clientSpan, serverSpan]) {
        assert.deepEqual(
          {
            system: span.attributes['rpc.system'],
            service: span.attributes['rpc.service'],
            method: span.attributes['rpc.method'],
            code: span.attributes['rpc.grpc.status_code'],
          },
          { system: 'grpc', service: 'gco.sidecar.v1.GitSidecarService', method: 'Health', code: 0 },
        );
      }
      assert.equal(work.attributes['fixture.step'], 1);
      assert.deepEqual(failing.status, { code: 'ERROR', message: 'token [REDACTED] rejected' });

      // NotFound: an error for the caller, the caller's fault for the server.
      const failedClient = one((s) => s.name === resolve && s.kind === 'CLIENT', 'the failed CLIENT span');
      const failedServer = one((s) => s.name === resolve && s.kind === 'SERVER', 'the failed SERVER span');
      assert.equal(failedServer.parentSpanId, failedClient.spanId);
      assert.equal(failedClient.attributes['rpc.grpc.status_code'], 5);
      assert.equal(failedServer.attributes['rpc.grpc.status_code'], 5);
      assert.equal(failedClient.status.code, 'ERROR');
      assert.equal(failedServer.status.code, 'UNSET');

      const handled = logLines(await logs()).find((l) => l.message === 'health handled');
      assert.ok(handled, await logs());
      assert.equal(handled.trace_id, root.traceId);
      assert.equal(handled.span_id, serverSpan.spanId);
      assert.match(String(handled.traceparent), new RegExp(`^00-${root.traceId}-${clientSpan.spanId}-01$`));
      const calling = logLines(client.stderr).find((l) => l.message === 'calling the sidecar');
      assert.deepEqual(calling && [calling.trace_id, calling.span_id, calling.namespace, calling.name], [
        root.traceId,
        root.spanId,
        'default',
        'demo',
      ]);
      // Metrics and logs are exported only when their own variables ask.
      assert.equal(receiver.requests('/v1/metrics'), 0);
      assert.equal(receiver.requests('/v1/logs'), 0);
    });

    it('exports nothing and sends no trace context when no OTEL_* variable is set', async () => {
      const { enabled, client, logs } = await tracedCall({});
      assert.equal(enabled, false);
      const lines = [...logLines(await logs()), ...logLines(client.stderr)];
      const handled = lines.find((l) => l.message === 'health handled');
      assert.equal(handled?.traceparent, 'none');
      assert.ok(lines.length >= 3, JSON.stringify(lines));
      for (const line of lines) assert.equal(line.trace_id, undefined, JSON.stringify(line));
      assert.equal(receiver.requests(), 0);
    });

    it('exports nothing when OTEL_SDK_DISABLED=true, even with an endpoint', async () => {
      const { enabled, logs } = await tracedCall({
        OTEL_EXPORTER_OTLP_ENDPOINT: receiver.url,
        OTEL_SDK_DISABLED: 'true',
      });
      assert.equal(enabled, false);
      assert.equal(logLines(await logs()).find((l) => l.message === 'health handled')?.traceparent, 'none');
      assert.equal(receiver.requests(), 0);
    });
  });
});
