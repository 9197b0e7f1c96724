import assert from 'node:assert/strict';
import { Counter } from 'prom-client';
import { createLogger, type Level, silentLogger } from '../src/logger.ts';
import { createRegistry, startMetricsServer, tracingRequested } from '../src/telemetry/index.ts';

describe('telemetry', function () {
  this.timeout(60_000);

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
        // fetch keeps its connection alive; close() must not wait for it. Waiting would take Node's
        // keep-alive timeout (5 s): the bound below sits under it, far above what closing takes.
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
