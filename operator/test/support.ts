/** One environment for the operator's end-to-end tests: control plane, git server, sidecar, operator. */
import assert from 'node:assert/strict';
import { join } from 'node:path';
import {
  type ControlPlane,
  createBareRepository,
  GitHttpServer,
  GitHubStandIn,
  type OperatorProcess,
  operatorNamespace,
  run,
  type SidecarProcess,
  sharedControlPlane,
  startOperator,
  startSidecar,
  tempDir,
} from '@gco/testenv';
import { stringify } from 'yaml';

export const token = 'ghp_operator_e2e_token_0123456789abcdef';
/** A token GitHub accepts for reading public repositories only (no 'repo' scope). */
export const publicOnlyToken = 'ghp_public_repo_only_token_0123456789';

export interface Environment {
  plane: ControlPlane;
  git: GitHttpServer;
  github: GitHubStandIn;
  sidecar: SidecarProcess;
  operator: OperatorProcess;
  root: string;
  /** Makes a repository on the git server; returns its URL and bare path. */
  repository(
    name: string,
    shape?: Parameters<typeof createBareRepository>[1],
  ): Promise<{ url: string; gitDir: string }>;
  apply(obj: unknown, namespace?: string): Promise<void>;
  kubectl(args: string[], input?: string): Promise<string>;
  stop(): Promise<void>;
}

export async function startEnvironment(
  opts: { operatorArgs?: string[] /** For both processes (OTEL_*). */; env?: NodeJS.ProcessEnv } = {},
): Promise<Environment> {
  const plane = await sharedControlPlane();
  const root = await tempDir('gco-e2e-');
  const git = await new GitHttpServer({
    root: join(root, 'repos'),
    auth: { tokens: [token, publicOnlyToken] },
  }).start();
  const github = new GitHubStandIn(git, {
    tokens: { [token]: ['repo', 'read:org'], [publicOnlyToken]: ['public_repo'] },
    labels: ['sync', 'automated'],
  });
  const sidecar = await startSidecar({ env: opts.env });
  const operator = await startOperator(plane, {
    sidecarSocket: sidecar.socketPath,
    args: opts.operatorArgs,
    env: opts.env,
  });
  const kubectl = async (args: string[], input?: string) => {
    const result = await plane.kubectl(args, { input });
    assert.equal(result.code, 0, `kubectl ${args.join(' ')}: ${result.stderr}`);
    return result.stdout;
  };
  return {
    plane,
    git,
    github,
    sidecar,
    operator,
    root,
    async repository(name, shape = { files: 3 }) {
      const gitDir = join(root, 'repos', name);
      await createBareRepository(gitDir, shape);
      return { url: git.url(name), gitDir };
    },
    async apply(obj, namespace = operatorNamespace) {
      const own =
        typeof obj === 'object' ? (obj as { metadata?: { namespace?: string } }).metadata?.namespace : undefined;
      await kubectl(['apply', '-n', own ?? namespace, '-f', '-'], typeof obj === 'string' ? obj : stringify(obj));
    },
    kubectl,
    async stop() {
      await operator.stop();
      await sidecar.stop();
      await git.stop();
    },
  };
}

/** A Secret with a token for the test git server. */
export function tokenSecret(name: string, namespace: string) {
  return {
    apiVersion: 'v1',
    kind: 'Secret',
    metadata: { name, namespace },
    stringData: { token },
  };
}

export async function waitReady(
  env: Environment,
  kind: string,
  name: string,
  namespace = operatorNamespace,
  timeout = '90s',
) {
  const result = await run(
    env.plane.kubectlPath,
    ['wait', `--for=condition=Ready`, `${kind}/${name}`, '-n', namespace, `--timeout=${timeout}`],
    {
      env: { ...process.env, KUBECONFIG: env.plane.kubeconfigPath },
      timeoutMs: 120_000,
    },
  );
  if (result.code !== 0) {
    const status = await env.plane.kubectl(['get', kind, name, '-n', namespace, '-o', 'jsonpath={.status}']);
    assert.fail(
      `${kind}/${name} did not become Ready: ${result.stderr}\nstatus: ${status.stdout}\n${(await env.operator.logs()).slice(-3000)}`,
    );
  }
}

export async function getStatus(
  env: Environment,
  kind: string,
  name: string,
  namespace = operatorNamespace,
): Promise<any> {
  const out = await env.kubectl(['get', kind, name, '-n', namespace, '-o', 'json']);
  return (JSON.parse(out) as { status?: unknown }).status ?? {};
}

/** Polls the status until `check` holds. */
export async function waitStatus(
  env: Environment,
  kind: string,
  name: string,
  check: (status: any) => boolean,
  namespace = operatorNamespace,
  timeoutMs = 60_000,
): Promise<any> {
  const deadline = Date.now() + timeoutMs;
  let status: any;
  while (Date.now() < deadline) {
    status = await getStatus(env, kind, name, namespace);
    if (check(status)) return status;
    await new Promise((r) => setTimeout(r, 250));
  }
  assert.fail(
    `${kind}/${name} status never matched: ${JSON.stringify(status)}\n${(await env.operator.logs()).slice(-3000)}`,
  );
}

/** A condition of a status, by type. */
export const condition = (status: any, type: string) => (status.conditions ?? []).find((c: any) => c.type === type);

/** Stalled=True with this reason. */
export const stalledWith = (reason: string) => (s: any) =>
  condition(s, 'Stalled')?.status === 'True' && condition(s, 'Stalled')?.reason === reason;

/** Ready=False with this reason while Reconciling (a retry is scheduled). */
export const retryingWith = (reason: string) => (s: any) =>
  condition(s, 'Ready')?.status === 'False' &&
  condition(s, 'Ready')?.reason === reason &&
  condition(s, 'Reconciling')?.status === 'True';

/** Asks for a new execution, as users do: a new value of gco.galos.one/reconcile-requested-at. */
export async function requestReconcile(env: Environment, kind: string, name: string, namespace: string, value: string) {
  await env.kubectl([
    'annotate',
    '--overwrite',
    '-n',
    namespace,
    `${kind}/${name}`,
    `gco.galos.one/reconcile-requested-at=${value}`,
  ]);
}

/**
 * Holds pushes to one repository of a git server while closed (executions in flight, waiting on their
 * push); opening lets them through.
 */
export function pushGate(git: GitHttpServer, repository: string) {
  let gate: { promise: Promise<void>; open: () => void } | undefined;
  let held = 0;
  git.addRoute(async (req) => {
    if (gate && req.method === 'POST' && req.url?.startsWith(`/${repository}/git-receive-pack`)) {
      held++;
      await gate.promise;
    }
    return false;
  });
  return {
    close() {
      let open = () => {};
      const promise = new Promise<void>((resolve) => {
        open = resolve;
      });
      gate = { promise, open };
    },
    open() {
      gate?.open();
      gate = undefined;
    },
    held: () => held,
  };
}

/** A counter or gauge of the operator's /metrics, summed over the series whose labels contain `labels`. */
export async function operatorMetric(env: Environment, name: string, labels: Record<string, string> = {}) {
  const text = await (await fetch(`http://127.0.0.1:${env.operator.metricsPort}/metrics`)).text();
  let sum = 0;
  for (const line of text.split('\n')) {
    const m = new RegExp(`^${name}(\\{[^}]*\\})? (\\S+)$`).exec(line);
    if (!m) continue;
    const series = m[1] ?? '';
    if (Object.entries(labels).every(([k, v]) => series.includes(`${k}="${v}"`))) sum += Number(m[2]);
  }
  return sum;
}
