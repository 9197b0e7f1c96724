import assert from 'node:assert/strict';
import { ExecutionFailure } from '../../src/controllers/execution/failure.ts';
import { type RetryPolicy, retryDelayMs, retryPolicyOf } from '../../src/controllers/execution/retry.ts';

const policy = 'gco.galos.one/retry-policy';
const maxRetries = 'gco.galos.one/max-retries';

/** The delays before retries 1..n, undefined where the policy gives up. */
const delays = (p: RetryPolicy, n: number) => Array.from({ length: n }, (_, i) => retryDelayMs(p, i + 1));

/** A permanent InvalidAnnotation failure whose message names the annotation and the value. */
const invalidAnnotation = (annotation: string, value: string) => (error: unknown) =>
  error instanceof ExecutionFailure &&
  error.permanent &&
  error.reason === 'InvalidAnnotation' &&
  error.message.includes(annotation) &&
  error.message.includes(`'${value}'`);

describe('retry policy (gco.galos.one/retry-policy, gco.galos.one/max-retries)', () => {
  it('is exponential backoff without a cap when no annotation says otherwise', () => {
    for (const annotations of [undefined, {}, { other: 'x' }] as Array<Record<string, string> | undefined>) {
      assert.deepEqual(retryPolicyOf(annotations), { kind: 'exponential-backoff', maxRetries: undefined });
    }
  });

  it('reads the policy and a whole number of retries, 0 included', () => {
    for (const kind of ['exponential-backoff', 'fixed', 'none'] as const) {
      assert.deepEqual(retryPolicyOf({ [policy]: kind }), { kind, maxRetries: undefined });
    }
    assert.deepEqual(retryPolicyOf({ [policy]: 'fixed', [maxRetries]: '3' }), { kind: 'fixed', maxRetries: 3 });
    assert.deepEqual(retryPolicyOf({ [maxRetries]: '0' }), { kind: 'exponential-backoff', maxRetries: 0 });
    assert.deepEqual(retryPolicyOf({ [maxRetries]: '120' }), { kind: 'exponential-backoff', maxRetries: 120 });
  });

  it('refuses an unknown policy and anything but a whole number of retries, naming the annotation', () => {
    for (const value of ['sometimes', 'Fixed', 'exponential', '']) {
      assert.throws(() => retryPolicyOf({ [policy]: value }), invalidAnnotation(policy, value), value);
    }
    for (const value of ['-1', '2.5', 'three', '', ' 3', '3 ', '1e3', '0x10']) {
      assert.throws(() => retryPolicyOf({ [maxRetries]: value }), invalidAnnotation(maxRetries, value), value);
    }
  });

  it('exponential backoff: 5 s doubling per retry to a 10-minute cap, retried for ever without max-retries', () => {
    const p = retryPolicyOf({});
    assert.deepEqual(
      delays(p, 9),
      [5_000, 10_000, 20_000, 40_000, 80_000, 160_000, 320_000, 600_000, 600_000],
      '5 * 2^7 s = 640 s is past the cap: the eighth retry waits 10 minutes',
    );
    // Far past the cap, 2^n overflows to Infinity: the cap still holds.
    for (const retry of [50, 1_100, 100_000]) assert.equal(retryDelayMs(p, retry), 600_000, `retry ${retry}`);
  });

  it('fixed: 30 s before every retry', () => {
    assert.deepEqual(delays(retryPolicyOf({ [policy]: 'fixed' }), 12), Array(12).fill(30_000));
    assert.equal(retryDelayMs(retryPolicyOf({ [policy]: 'fixed' }), 100_000), 30_000);
  });

  it('none: no retry, whatever max-retries says', () => {
    assert.deepEqual(delays(retryPolicyOf({ [policy]: 'none' }), 3), [undefined, undefined, undefined]);
    assert.equal(retryDelayMs(retryPolicyOf({ [policy]: 'none', [maxRetries]: '5' }), 1), undefined);
  });

  it('max-retries N allows exactly N retries with either policy; 0 gives up at the first failure', () => {
    assert.deepEqual(delays(retryPolicyOf({ [maxRetries]: '3' }), 5), [5_000, 10_000, 20_000, undefined, undefined]);
    assert.deepEqual(delays(retryPolicyOf({ [policy]: 'fixed', [maxRetries]: '2' }), 4), [
      30_000,
      30_000,
      undefined,
      undefined,
    ]);
    assert.deepEqual(delays(retryPolicyOf({ [maxRetries]: '0' }), 2), [undefined, undefined]);
    assert.deepEqual(delays(retryPolicyOf({ [policy]: 'fixed', [maxRetries]: '0' }), 2), [undefined, undefined]);
    // A cap above the 10-minute backoff cap: the delays stay capped, the count still ends it.
    const long = retryPolicyOf({ [maxRetries]: '10' });
    assert.deepEqual(delays(long, 11).slice(7), [600_000, 600_000, 600_000, undefined]);
  });
});
