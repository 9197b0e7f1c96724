// The trace of a batch of several jobs: the batch span belongs to the job that opened it, and the
// queue spans of the others name that trace, so each job's trace leads to where its seconds went.
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { createSidecarClient } from '@gco/sidecar-api';
import {
  createBareRepository,
  GitHttpServer,
  OtlpReceiver,
  type ReceivedSpan,
  startSidecar,
  tempDir,
} from '@gco/testenv';
import { commitRequest, tokenCredentials } from '@gco/testenv/sidecar';

const token = 'ghp_batch_tracing_token_0123456789';

describe('git sidecar: traces of batches, exported over HTTP and gRPC', function () {
  this.timeout(120_000);

  it('puts the batch in the trace of its first job; the others link to it from their queue spans', async () => {
    const root = await tempDir();
    await createBareRepository(join(root, 'repos/batched.git'), { files: 20 });
    const server = await new GitHttpServer({ root: join(root, 'repos'), auth: { tokens: [token] } }).start();
    const receiver = await OtlpReceiver.start();
    const sidecar = await startSidecar({
      env: { OTEL_EXPORTER_OTLP_ENDPOINT: receiver.url, OTEL_BSP_SCHEDULE_DELAY: '100' },
    });
    try {
      const client = createSidecarClient({ socketPath: sidecar.socketPath });
      // The first job clones; the others queue meanwhile and go together in the next batch.
      const responses = await Promise.all(
        Array.from({ length: 5 }, (_, i) =>
          client.commit(
            commitRequest({
              url: server.url('batched.git'),
              credentials: tokenCredentials(token),
              ops: [{ path: `batched/${i}.txt`, content: `${i}\n` }],
            }),
          ),
        ),
      );
      const biggest = Math.max(...responses.map((r) => r.batchSize));
      assert.ok(biggest >= 2, `some jobs were batched (batch sizes ${responses.map((r) => r.batchSize)})`);
      await sidecar.stop(); // flushes the spans
      const spans = receiver.spans;
      const batch = spans.find(
        (s) => s.name === 'git batch' && s.attributes['gco.batch.size'] === biggest,
      ) as ReceivedSpan;
      assert.ok(batch, 'the batch span of the biggest batch');
      const queued = spans.filter((s) => s.name === 'sidecar queue' && s.attributes['gco.batch.size'] === biggest);
      assert.equal(queued.length, biggest, 'one queue span per job of the batch');
      const opener = queued.filter((s) => s.traceId === batch.traceId);
      assert.equal(opener.length, 1, 'the batch is in the trace of one of its jobs');
      assert.equal(opener[0]?.attributes['gco.batch.trace_id'], undefined);
      for (const other of queued.filter((s) => s.traceId !== batch.traceId))
        assert.equal(other.attributes['gco.batch.trace_id'], batch.traceId, 'the others name the batch trace');
      assert.equal(batch.attributes['gco.branch'], 'main', 'the branch the batch resolved');
      // Nothing complained about a span used after it ended.
      assert.doesNotMatch(await sidecar.logs(), /ended Span/);
    } finally {
      await sidecar.stop();
      await receiver.close();
      await server.stop();
    }
  });

  it('exports over OTLP/gRPC as well (OTEL_EXPORTER_OTLP_PROTOCOL=grpc)', async () => {
    const root = await tempDir();
    await createBareRepository(join(root, 'repos/grpc.git'), { files: 2 });
    const server = await new GitHttpServer({ root: join(root, 'repos'), auth: { tokens: [token] } }).start();
    const receiver = await OtlpReceiver.start({ protocol: 'grpc' });
    const sidecar = await startSidecar({
      env: { OTEL_EXPORTER_OTLP_ENDPOINT: receiver.url, OTEL_EXPORTER_OTLP_PROTOCOL: 'grpc' },
    });
    try {
      const client = createSidecarClient({ socketPath: sidecar.socketPath });
      await client.commit(
        commitRequest({
          url: server.url('grpc.git'),
          credentials: tokenCredentials(token),
          ops: [{ path: 'g.txt', content: 'g\n' }],
        }),
      );
      await sidecar.stop(); // flushes the spans
      assert.equal(receiver.requests('/opentelemetry.proto.collector.trace.v1.TraceService/Export') > 0, true);
      const names = new Set(receiver.spans.filter((s) => s.serviceName === 'git-sidecar').map((s) => s.name));
      for (const name of ['gco.sidecar.v1.GitSidecarService/Commit', 'sidecar queue', 'git batch', 'git push'])
        assert.ok(names.has(name), `${name} arrived over gRPC (got ${[...names]})`);
    } finally {
      await sidecar.stop();
      await receiver.close();
      await server.stop();
    }
  });
});
