import assert from 'node:assert/strict';
import { durationPattern, parseDuration } from '../src/duration.ts';
import { parseDurationFlag, parseListenAddress, readFlags } from '../src/flags.ts';

describe('common: flags', () => {
  it("reads durations as Go's time.ParseDuration writes them", () => {
    for (const [text, ms] of [
      ['500ms', 500],
      ['1.5s', 1500],
      ['2m', 120_000],
      ['1h30m', 5_400_000],
      ['1h0m0.5s', 3_600_500],
      ['250us', 0.25],
      ['250µs', 0.25],
      ['10ns', 0.00001],
    ] as const) {
      assert.ok(Math.abs((parseDuration(text) ?? Number.NaN) - ms) < 1e-12, `${text}: ${parseDuration(text)}`);
    }
    for (const text of ['', '10', 's', '1d', '-1s', '1 s', '1s ', '1.s', 'forever'])
      assert.equal(parseDuration(text), undefined, JSON.stringify(text));
    assert.equal(new RegExp(`^${durationPattern}$`, 'u').test('1h30m'), true);
  });

  it('parses a duration flag to whole milliseconds, 0 only where it means off, naming the flag', () => {
    assert.equal(parseDurationFlag('git-timeout', '30s'), 30_000);
    assert.equal(parseDurationFlag('git-timeout', ' 1m30s '), 90_000);
    assert.equal(parseDurationFlag('resync-period', '0', { allowOff: true }), 0);
    assert.throws(() => parseDurationFlag('git-timeout', '0'), /--git-timeout: "0" is not a duration \(examples: /);
    assert.throws(() => parseDurationFlag('resync-period', '10', { allowOff: true }), /; 0: off\)/);
  });

  it('takes a flag from the command line over the environment, and booleans in every spelling', () => {
    const spec = {
      'leader-elect': { type: 'boolean', default: false },
      'log-level': { type: 'string', default: 'info' },
    } as const;
    const env = { GCO_LEADER_ELECT: 'true', GCO_LOG_LEVEL: 'debug' };
    assert.equal(readFlags(spec, [], env, 'GCO_').boolean('leader-elect'), true);
    assert.equal(readFlags(spec, ['--leader-elect=false'], env, 'GCO_').boolean('leader-elect'), false);
    assert.equal(readFlags(spec, ['--no-leader-elect'], env, 'GCO_').boolean('leader-elect'), false);
    assert.equal(readFlags(spec, ['--log-level=warn'], env, 'GCO_').string('log-level'), 'warn');
    assert.equal(readFlags(spec, [], {}, 'GCO_').string('log-level'), 'info');
    assert.throws(
      () => readFlags(spec, [], { GCO_LEADER_ELECT: 'yes' }, 'GCO_').boolean('leader-elect'),
      /GCO_LEADER_ELECT: expected true/,
    );
    assert.deepEqual(parseListenAddress('metrics-address', '[::1]:8080'), { host: '::1', port: 8080 });
    assert.equal(parseListenAddress('metrics-address', '0', { allowOff: true }), undefined);
  });
});
