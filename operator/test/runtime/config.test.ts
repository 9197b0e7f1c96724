import assert from 'node:assert/strict';
import { parseConfig } from '../../src/config.ts';

describe('operator flags', () => {
  it('serves health and metrics on every interface by default (IPv6 and IPv4), or where told', () => {
    const config = parseConfig([], {});
    assert.deepEqual(config.healthAddress, { host: undefined, port: 8081 });
    assert.deepEqual(config.metricsAddress, { host: undefined, port: 8080 });
    assert.deepEqual(parseConfig(['--metrics-address=[::1]:9090'], {}).metricsAddress, { host: '::1', port: 9090 });
    assert.equal(parseConfig(['--metrics-address=0'], {}).metricsAddress, undefined);
    assert.equal(parseConfig([], { GCO_METRICS_ADDRESS: '0' }).metricsAddress, undefined);
    assert.throws(() => parseConfig(['--health-address=8081'], {}), /--health-address: expected \[host\]:port/);
  });

  it('takes each flag from the command line, else GCO_<FLAG>, else its default', () => {
    assert.equal(parseConfig([], {}).concurrency, 64);
    assert.equal(parseConfig([], { GCO_CONCURRENCY: '7' }).concurrency, 7);
    assert.equal(parseConfig(['--concurrency=3'], { GCO_CONCURRENCY: '7' }).concurrency, 3);
    assert.equal(parseConfig([], { GCO_LEADER_ELECT: 'true' }).leaderElect, true);
    assert.equal(parseConfig(['--leader-elect'], {}).leaderElect, true);
    assert.equal(parseConfig([], {}).leaderElect, false);
    assert.equal(parseConfig([], { GCO_LOG_LEVEL: 'debug' }).logLevel, 'debug');
    assert.throws(() => parseConfig(['--log-level=loud'], {}), /--log-level: one of debug, info, warn, error/);
    assert.throws(() => parseConfig(['--no-such-flag'], {}));
  });

  it('lets the command line win even with the default value, and takes negations', () => {
    const env = { GCO_LEADER_ELECT: 'true', GCO_CONCURRENCY: '7', GCO_ALLOW_FILE_URLS: 'true' };
    assert.equal(parseConfig(['--leader-elect=false'], env).leaderElect, false);
    assert.equal(parseConfig(['--no-leader-elect'], env).leaderElect, false);
    assert.equal(parseConfig(['--leader-elect=true'], {}).leaderElect, true);
    assert.equal(parseConfig(['--concurrency=64'], env).concurrency, 64, 'a flag equal to its default still wins');
    assert.equal(parseConfig(['--no-allow-file-urls'], env).allowFileUrls, false);
    assert.equal(parseConfig([], env).allowFileUrls, true);
    assert.throws(() => parseConfig(['--leader-elect=yes'], {}), /--leader-elect: expected true or false, got "yes"/);
    assert.throws(() => parseConfig([], { GCO_LEADER_ELECT: '1' }), /GCO_LEADER_ELECT: expected true or false/);
  });

  it('resyncs every 10 minutes by default, as controller-runtime; --resync-period=0 turns it off', () => {
    assert.equal(parseConfig([], {}).resyncPeriodMs, 600_000);
    assert.equal(parseConfig(['--resync-period=30s'], {}).resyncPeriodMs, 30_000);
    assert.equal(parseConfig([], { GCO_RESYNC_PERIOD: '1h' }).resyncPeriodMs, 3_600_000);
    assert.equal(parseConfig(['--resync-period=0'], {}).resyncPeriodMs, 0);
    assert.throws(() => parseConfig(['--resync-period=10'], {}), /--resync-period: "10" is not a duration/);
    assert.throws(() => parseConfig(['--resync-period=-1s'], {}), /--resync-period/);
  });
});
