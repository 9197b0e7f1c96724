/**
 * The development git server: the harness's smart-HTTP server (`git http-backend`) and GitHub GraphQL
 * stand-in as a long-running program. It is the in-cluster server of the dev loop (Tilt) and of the
 * kind e2e run, and the local e2e target runs the same program as a process, so both targets test it.
 *
 *   node hack/testenv/src/dev-git-server.ts --listen=:8080 --root=/data \
 *     --token-file=/etc/gco-dev-git-server/token --repository=platform/cluster-config.git
 *
 * Repositories are created on their first push (push to create), and each `--repository` exists,
 * empty, from the start. With a token, every request needs it (as the password of HTTP basic auth, the
 * way GitHub takes tokens); without one, anyone may read and write. For development only: it keeps
 * pull requests in memory and has no TLS.
 */
import { existsSync } from 'node:fs';
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { GitHttpServer } from './git-http-server.ts';
import { GitHubStandIn } from './github-stand-in.ts';
import { runOk } from './processes.ts';

const { values } = parseArgs({
  options: {
    listen: { type: 'string', default: ':8080' },
    root: { type: 'string', default: '/data' },
    'token-file': { type: 'string' },
    repository: { type: 'string', multiple: true, default: [] },
    label: { type: 'string', multiple: true, default: ['sync', 'automated', 'gitops'] },
  },
});

const log = (msg: string, fields: Record<string, unknown> = {}) =>
  console.log(JSON.stringify({ time: new Date().toISOString(), msg, ...fields }));

const listen = /^(.*):(\d+)$/.exec(values.listen);
if (!listen) {
  console.error(`--listen=${values.listen}: expected [host]:port, such as :8080`);
  process.exit(2);
}
const token = values['token-file'] ? (await readFile(values['token-file'], 'utf8')).trim() : undefined;
if (values['token-file'] && !token) {
  console.error(`--token-file=${values['token-file']}: the file is empty`);
  process.exit(2);
}

for (const name of values.repository) {
  if (!name.endsWith('.git') || name.split('/').includes('..')) {
    console.error(`--repository=${name}: expected a path ending in .git, such as platform/config.git`);
    process.exit(2);
  }
  const dir = join(values.root, name);
  if (!existsSync(join(dir, 'HEAD'))) await runOk('git', ['init', '--quiet', '--bare', '--initial-branch=main', dir]);
}

const server = new GitHttpServer({
  root: values.root,
  auth: token ? { tokens: [token] } : undefined,
  createOnPush: true,
});
server.addRoute((req, res) => {
  if (req.url !== '/healthz') return false;
  res.writeHead(200, { 'content-type': 'text/plain' }).end('ok\n');
  return true;
});
const github = new GitHubStandIn(server, {
  tokens: token ? { [token]: ['repo', 'read:org'] } : {},
  labels: values.label,
});
await server.start({ host: listen[1] || '0.0.0.0', port: Number(listen[2]) });
log('serving', {
  port: Number(new URL(server.baseUrl).port),
  root: values.root,
  auth: token ? 'token' : 'none',
  repositories: values.repository,
});

// The request log: what was asked and answered, never the credentials. Drained, so a server that runs
// for weeks in a dev cluster does not keep every request in memory.
const flush = setInterval(() => {
  for (const r of server.requests.splice(0)) log('request', { ...r });
  for (const r of github.requests.splice(0)) log('graphql', { status: r.status, variables: r.variables });
}, 1000);

for (const signal of ['SIGINT', 'SIGTERM'] as const) {
  process.once(signal, async () => {
    clearInterval(flush);
    await server.stop();
    log('stopped', { signal });
    process.exit(0);
  });
}
