import assert from 'node:assert/strict';
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { OtlpReceiver, type ReceivedSpan, run, startProcess, tempDir, waitFor } from '@gco/testenv';
import { Counter } from 'prom-client';
import { createLogger, type Level, silentLogger } from '../src/logger.ts';
import { createRegistry, startMetricsServer, tracingRequested } from '../src/telemetry/index.ts';

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

  it('starts tracing only for the variables that ask for export', () => {
    const cases: [Record<string, string>, boolean][] = [
      [{}, false],
      [{ OTEL_EXPORTER_OTLP_ENDPOINT: 'http://c:4318' }, true],
      [{ OTEL_EXPORTER_OTLP_TRACES_ENDPOINT: 'http://c:4318/v1/traces' }, true],
      [{ OTEL_EXPORTER_OTLP_ENDPOINT: ' ' }, false],
      [{ OTEL_TRACES_EXPORTER: 'console' }, true],
      [{ OTEL_TRACES_EXPORTER: 'none', OTEL_EXPORTER_OTLP_ENDPOINT: 'http://c:4318' }, false],
      [{ OTEL_SDK_DISABLED: 'TRUE', OTEL_TRACES_EXPORTER: 'otlp' }, false],
      [{ OTEL_SDK_DISABLED: 'false', OTEL_TRACES_EXPORTER: 'otlp' }, true],
      [{ OTEL_SERVICE_NAME: 'x' }, false],
    ];
    for (const [env, expected] of cases) assert.equal(tracingRequested(env), expected, JSON.stringify(env));
  });

  describe('logger', () => {
    function capture(level: Level, redact?: (t: string) => string) {
      const lines: string[] = [];
      const logger = createLogger({ level, component: 'test', redact, write: (l) => lines.push(l) });
      return { logger, lines, records: () => lines.map((l) => JSON.parse(l) as Record<string, unknown>) };
    }

    it('writes one JSON object a line: time, level, component, message, then the fields', () => {
      const { logger, lines, records } = capture('debug');
      logger.info('hello', { count: 2, nested: { a: [1] } });
      assert.equal(lines.length, 1);
      assert.ok(lines[0]!.endsWith('}\n') && !lines[0]!.slice(0, -1).includes('\n'));
      const [record] = records();
      assert.deepEqual(Object.keys(record!), ['time', 'level', 'component', 'message', 'count', 'nested']);
      assert.deepEqual(
        { ...record, time: undefined },
        { time: undefined, level: 'info', component: 'test', message: 'hello', count: 2, nested: { a: [1] } },
      );
      assert.ok(Math.abs(Date.parse(String(record!.time)) - Date.now()) < 5000);
    });

    it('drops lines below its level', () => {
      const { logger, records } = capture('warn');
      logger.debug('d');
      logger.info('i');
      logger.warn('w');
      logger.error('e');
      assert.deepEqual(
        records().map((r) => [r.level, r.message]),
        [
          ['warn', 'w'],
          ['error', 'e'],
        ],
      );
    });

    it('adds a child logger’s fields to every line, without changing the parent', () => {
      const { logger, records } = capture('info');
      const object = logger.child({ namespace: 'team-a', name: 'config' });
      const execution = object.child({ execution: 'e-1' });
      execution.info('one', { extra: true });
      execution.info('two', { execution: 'overridden' });
      object.info('three');
      logger.info('four');
      // A field named like winston's own keys must not reroute the line.
      logger.info('five', { level: 'x' });
      const [one, two, three, four, five] = records();
      assert.deepEqual([one?.namespace, one?.name, one?.execution, one?.extra], ['team-a', 'config', 'e-1', true]);
      assert.equal(two?.execution, 'overridden');
      assert.deepEqual([three?.name, three?.execution], ['config', undefined]);
      assert.deepEqual([four?.namespace, four?.message], [undefined, 'four']);
      assert.equal(five?.message, 'five');
      assert.equal(silentLogger.child({ a: 1 }), silentLogger);
    });

    it('runs the whole line through the redactor', () => {
      const { logger, lines } = capture('info', (t) => t.replaceAll('hunter2', '***'));
      logger.warn('password hunter2 in the message', { url: 'https://x:hunter2@h/r', error: new Error('bad hunter2') });
      assert.equal(lines.length, 1);
      assert.doesNotMatch(lines[0]!, /hunter2/);
      assert.match(lines[0]!, /password \*\*\* in the message/);
      assert.match(lines[0]!, /https:\/\/x:\*\*\*@h\/r/);
    });

    it('redacts a secret that JSON would escape (a key with newlines, a password with a quote)', () => {
      const key = '-----BEGIN KEY-----\nabc\n-----END KEY-----';
      const password = 'pa"ss\\word';
      const { logger, lines } = capture('info', (t) => t.replaceAll(key, '[key]').replaceAll(password, '[password]'));
      logger.warn('ssh failed', { stderr: `could not use ${key}`, error: new Error(`rejected ${password}`) });
      assert.equal(lines.length, 1);
      assert.doesNotMatch(lines[0]!, /abc|ss\\/);
      assert.match(lines[0]!, /could not use \[key\]/);
      assert.match(lines[0]!, /rejected \[password\]/);
    });

    it('writes Errors as their message, at any depth', () => {
      const { logger, records } = capture('info');
      logger.error('failed', { error: new Error('boom'), cause: { inner: new TypeError('deep') } });
      const [record] = records();
      assert.equal(record?.error, 'boom');
      assert.deepEqual(record?.cause, { inner: 'deep' });
    });

    it('has no trace ids outside a span', () => {
      const { logger, records } = capture('info');
      logger.info('plain');
      assert.equal(records()[0]?.trace_id, undefined);
      assert.equal(records()[0]?.span_id, undefined);
    });
  });

  describe('metrics server', () => {
    it('serves the registry at /metrics with the Prometheus content type, and 404 elsewhere', async () => {
      const registry = createRegistry();
      const counter = new Counter({
        name: 'gco_test_calls_total',
        help: 'Calls in the test.',
        labelNames: ['result'],
        registers: [registry],
      });
      counter.inc({ result: 'ok' }, 2);
      const server = await startMetricsServer({ host: '127.0.0.1', port: 0, registry, logger: silentLogger });
      try {
        assert.ok(server.port > 0);
        const res = await fetch(`http://127.0.0.1:${server.port}/metrics`);
        assert.equal(res.status, 200);
        assert.equal(res.headers.get('content-type'), registry.contentType);
        assert.match(registry.contentType, /^text\/plain; version=0\.0\.4/);
        const body = await res.text();
        assert.match(body, /^gco_test_calls_total\{result="ok"\} 2$/m);
        assert.match(body, /^process_cpu_user_seconds_total \d/m);
        assert.match(body, /^nodejs_eventloop_lag_seconds /m);
        assert.equal((await fetch(`http://127.0.0.1:${server.port}/`)).status, 404);
        const health = await fetch(`http://127.0.0.1:${server.port}/healthz`);
        assert.equal(health.status, 200, 'the liveness probe of the sidecar container asks here');
        assert.equal((await fetch(`http://127.0.0.1:${server.port}/readyz`)).status, 404, 'no readiness unless given');
        assert.equal((await fetch(`http://127.0.0.1:${server.port}/metrics/x`)).status, 404);
        assert.equal((await fetch(`http://127.0.0.1:${server.port}/metrics`, { method: 'POST' })).status, 404);
      } finally {
        // fetch keeps its connection alive; close() must not wait for it.
        const started = Date.now();
        await server.close();
        assert.ok(Date.now() - started < 2000);
      }
    });

    it('answers /readyz from its `ready` function: 503 while false, 200 while true', async () => {
      let ready = false;
      const server = await startMetricsServer({
        host: '127.0.0.1',
        port: 0,
        registry: createRegistry(),
        logger: silentLogger,
        ready: () => ready,
      });
      try {
        const readyz = () => fetch(`http://127.0.0.1:${server.port}/readyz`);
        const before = await readyz();
        assert.deepEqual([before.status, await before.text()], [503, 'not ready\n']);
        ready = true;
        const after = await readyz();
        assert.deepEqual([after.status, await after.text()], [200, 'ok\n']);
      } finally {
        await server.close();
      }
    });
  });
});
