import assert from 'node:assert/strict';
import { createLogger } from '@gco/common/logger';
import { redactCredentials } from '../../src/redaction.ts';

describe('credential redaction (operator logs and spans)', () => {
  const secrets = {
    classic: 'ghp_0123456789abcdefABCDEF0123456789abcd',
    fineGrained: 'github_pat_11ABCDEFG0123456789_abcdefghijklmnopqrstuvwxyz0123456789',
    password: 's3cr3t-Pa55',
    key: '-----BEGIN OPENSSH PRIVATE KEY-----\nb3BlbnNzaC1rZXktdjEAAAAA\n-----END OPENSSH PRIVATE KEY-----',
  };

  it('removes tokens, Authorization values, URL userinfo and private keys, and keeps the rest', () => {
    const text = [
      `token ${secrets.classic} and ${secrets.fineGrained}`,
      `request failed: {"authorization":"bearer ${secrets.password}"} Authorization: Basic ${secrets.password}`,
      `fatal: unable to access 'https://x-access-token:${secrets.password}@github.com/org/repo.git/'`,
      secrets.key,
    ].join('\n');
    const out = redactCredentials(text);
    for (const secret of Object.values(secrets)) assert.ok(!out.includes(secret), `${secret.slice(0, 12)}… is gone`);
    assert.match(out, /https:\/\/\[REDACTED\]@github\.com\/org\/repo\.git/);
    assert.match(out, /request failed/);
  });

  it('applies to every log line, fields included', () => {
    const lines: string[] = [];
    const logger = createLogger({
      level: 'debug',
      component: 'test',
      redact: redactCredentials,
      write: (l) => lines.push(l),
    });
    logger.child({ repository: `https://u:${secrets.password}@example.com/r.git` }).error('push failed', {
      error: new Error(`bad credentials ${secrets.classic}`),
    });
    assert.equal(lines.length, 1);
    assert.ok(!lines[0]?.includes(secrets.password) && !lines[0]?.includes(secrets.classic), lines[0]);
    assert.match(lines[0] ?? '', /"message":"push failed"/);
  });
});
