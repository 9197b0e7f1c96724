/** Objects the node suites apply beside the users' scenarios, written once. */
import { operatorNamespace as ns } from './e2e-target.ts';

/** An auth Secret holding the git server's token. */
export const tokenSecret = (name: string, token: string) => ({
  apiVersion: 'v1',
  kind: 'Secret',
  metadata: { name, namespace: ns },
  stringData: { token },
});

/** A GitCommit adding one file, `<name>.txt` holding its name, to a repository (its default branch unless given). */
export function oneFileCommit(
  name: string,
  opts: { url: string; secretName?: string; branch?: string; labels?: Record<string, string> },
) {
  return {
    apiVersion: 'gco.galos.one/v1',
    kind: 'GitCommit',
    metadata: { name, namespace: ns, ...(opts.labels ? { labels: opts.labels } : {}) },
    spec: {
      repository: { url: opts.url, ...(opts.branch ? { branch: opts.branch } : {}) },
      auth: { secretName: opts.secretName ?? 'git-credentials' },
      commit: { author: 'E2E <e2e@gco.local>', message: name },
      files: [{ path: `${name}.txt`, content: `${name}\n` }],
    },
  };
}
