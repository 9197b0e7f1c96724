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
});
