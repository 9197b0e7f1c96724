import assert from 'node:assert/strict';
import { gzipSync } from 'node:zlib';
import { context, type Span, SpanKind, SpanStatusCode, trace } from '@opentelemetry/api';
import { OTLPTraceExporter as JsonExporter } from '@opentelemetry/exporter-trace-otlp-http';
import { OTLPTraceExporter as ProtobufExporter } from '@opentelemetry/exporter-trace-otlp-proto';
import { resourceFromAttributes } from '@opentelemetry/resources';
import { SimpleSpanProcessor, type SpanExporter, TracerProvider } from '@opentelemetry/sdk-trace';
import { OtlpReceiver } from '../src/index.ts';

/** Two spans, parent and child, sent by the SDK's own exporter; not registered globally. */
async function sendSpans(exporter: SpanExporter, serviceName: string): Promise<{ parent: Span; child: Span }> {
  const provider = new TracerProvider({
    resource: resourceFromAttributes({ 'service.name': serviceName }),
    spanProcessors: [new SimpleSpanProcessor({ exporter })],
  });
  const tracer = provider.getTracer('receiver-test');
  const parent = tracer.startSpan('parent', { kind: SpanKind.SERVER });
  const child = tracer.startSpan(
    'child',
    {
      kind: SpanKind.CLIENT,
      attributes: { text: 'a', count: 3, ratio: 0.5, flag: true, list: ['x', 'y'] },
    },
    trace.setSpan(context.active(), parent),
  );
  child.setStatus({ code: SpanStatusCode.ERROR, message: 'went wrong' });
  child.end();
  parent.end();
  await provider.shutdown();
  return { parent, child };
}

describe('OTLP/HTTP receiver', function () {
  this.timeout(20_000);
  let receiver: OtlpReceiver;

  beforeEach(async () => {
    receiver = await OtlpReceiver.start();
  });
  afterEach(async () => {
    await receiver.close();
  });

  for (const [encoding, make] of [
    ['protobuf', (url: string) => new ProtobufExporter({ url })],
    ['JSON', (url: string) => new JsonExporter({ url })],
  ] as const) {
    it(`decodes spans the SDK exports as ${encoding}`, async () => {
      const { parent, child } = await sendSpans(make(`${receiver.url}/v1/traces`), `svc-${encoding}`);
      const spans = await receiver.waitForSpans((s) => s.length === 2, 5000);
      const byName = new Map(spans.map((s) => [s.name, s]));
      const p = byName.get('parent');
      const c = byName.get('child');
      assert.ok(p && c, JSON.stringify(spans));
      assert.equal(p.traceId, parent.spanContext().traceId);
      assert.equal(p.spanId, parent.spanContext().spanId);
      assert.equal(p.parentSpanId, undefined);
      assert.equal(p.kind, 'SERVER');
      assert.equal(c.traceId, parent.spanContext().traceId);
      assert.equal(c.spanId, child.spanContext().spanId);
      assert.equal(c.parentSpanId, parent.spanContext().spanId);
      assert.equal(c.kind, 'CLIENT');
      assert.equal(c.serviceName, `svc-${encoding}`);
      assert.equal(c.scopeName, 'receiver-test');
      assert.deepEqual(c.attributes, { text: 'a', count: 3, ratio: 0.5, flag: true, list: '["x","y"]' });
      assert.deepEqual(c.status, { code: 'ERROR', message: 'went wrong' });
      assert.deepEqual(p.status, { code: 'UNSET', message: '' });
      assert.ok(BigInt(c.endTimeUnixNano) >= BigInt(c.startTimeUnixNano) && BigInt(c.startTimeUnixNano) > 0n);
      assert.equal(receiver.requests('/v1/traces'), 2);
      assert.equal(receiver.requests(), 2);
    });
  }

  it('reads gzipped proto3 JSON with base64 ids and enum names', async () => {
    const traceId = '0af7651916cd43dd8448eb211c80319c';
    const spanId = 'b7ad6b7169203331';
    const body = {
      resourceSpans: [
        {
          resource: { attributes: [{ key: 'service.name', value: { stringValue: 'other' } }] },
          scopeSpans: [
            {
              scope: { name: 's' },
              spans: [
                {
                  traceId: Buffer.from(traceId, 'hex').toString('base64'),
                  spanId: Buffer.from(spanId, 'hex').toString('base64'),
                  name: 'op',
                  kind: 'SPAN_KIND_PRODUCER',
                  startTimeUnixNano: '1',
                  endTimeUnixNano: '2',
                  attributes: [{ key: 'n', value: { intValue: '42' } }],
                  status: { code: 'STATUS_CODE_OK' },
                },
              ],
            },
          ],
        },
      ],
    };
    const res = await fetch(`${receiver.url}/v1/traces`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', 'content-encoding': 'gzip' },
      body: gzipSync(JSON.stringify(body)),
    });
    assert.equal(res.status, 200);
    assert.deepEqual(await res.json(), {});
    const [span] = await receiver.waitForSpans((s) => s.length === 1, 1000);
    assert.equal(span?.traceId, traceId);
    assert.equal(span?.spanId, spanId);
    assert.equal(span?.kind, 'PRODUCER');
    assert.equal(span?.status.code, 'OK');
    assert.equal(span?.attributes.n, 42);
    assert.equal(span?.serviceName, 'other');
  });

  it('counts every request, refuses other encodings and paths, and times out waiting', async () => {
    const plain = await fetch(`${receiver.url}/v1/traces`, {
      method: 'POST',
      headers: { 'content-type': 'text/plain' },
      body: 'x',
    });
    assert.equal(plain.status, 415);
    assert.match(await plain.text(), /application\/x-protobuf or application\/json/);
    assert.equal((await fetch(`${receiver.url}/v2/other`, { method: 'POST' })).status, 404);
    const metrics = await fetch(`${receiver.url}/v1/metrics`, {
      method: 'POST',
      headers: { 'content-type': 'application/x-protobuf' },
      body: new Uint8Array(),
    });
    assert.equal(metrics.status, 200);
    assert.equal(receiver.requests('/v1/traces'), 1);
    assert.equal(receiver.requests('/v1/metrics'), 1);
    assert.equal(receiver.requests('/v2/other'), 1);
    assert.equal(receiver.requests('/v1/logs'), 0);
    assert.equal(receiver.requests(), 3);
    await assert.rejects(
      receiver.waitForSpans((s) => s.length > 0, 200),
      /spans not received within 200 ms/,
    );
  });
});
