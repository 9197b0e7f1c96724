/**
 * "Every execution exactly one commit", checked the way the contract defines it: by the Gco-Source and
 * Gco-Execution trailers on the commits a repository holds, against the executions the resources report
 * in `status.executionHistory`. Fault tests (kills, restarts, broken watches, lost leases) end with it.
 */
import assert from 'node:assert/strict';
import { runOk } from './processes.ts';

export interface TrailedCommit {
  sha: string;
  source: string;
  execution: string;
}

/** The commits reachable from any ref of a (bare) repository that carry an execution trailer. */
export async function commitsWithTrailers(gitDir: string): Promise<TrailedCommit[]> {
  const out = await runOk('git', [
    `--git-dir=${gitDir}`,
    'log',
    '--all',
    '--format=%H%x00%(trailers:key=Gco-Source,valueonly,separator=%x2C)%x00%(trailers:key=Gco-Execution,valueonly,separator=%x2C)%x00',
  ]);
  const commits: TrailedCommit[] = [];
  for (const record of out.split('\0\n')) {
    const [sha, source, execution] = record.trim().split('\0');
    if (sha && execution?.trim()) commits.push({ sha, source: source?.trim() ?? '', execution: execution.trim() });
  }
  return commits;
}

/** What a resource's status says about its executions. */
export interface ReportedExecutions {
  /** `<Kind>/<namespace>/<name>`, as the Gco-Source trailer names it. */
  source: string;
  history: Array<{ id: string; result: string; trigger?: string; commitSHA?: string }>;
  /** False when the history may have dropped entries (it keeps 10): commits of dropped ones are then not orphans. */
  historyComplete?: boolean;
}

/**
 * Asserts: no execution id on two commits; every Committed execution has exactly one commit, the one its
 * status names; and (with a complete history) no commit of these sources belongs to an unreported execution.
 */
export function assertExactlyOnce(commits: TrailedCommit[], resources: ReportedExecutions[]): void {
  const byExecution = new Map<string, TrailedCommit[]>();
  for (const c of commits) byExecution.set(c.execution, [...(byExecution.get(c.execution) ?? []), c]);
  const duplicated = [...byExecution].filter(([, list]) => list.length > 1);
  assert.deepEqual(
    duplicated.map(([id, list]) => `${id}: ${list.map((c) => c.sha.slice(0, 7)).join(', ')}`),
    [],
    'an execution made more than one commit',
  );
  for (const resource of resources) {
    const known = new Set(resource.history.map((h) => h.id));
    for (const h of resource.history.filter((e) => e.result === 'Committed')) {
      const found = byExecution.get(h.id) ?? [];
      assert.equal(
        found.length,
        1,
        `${resource.source}: execution ${h.id} reported Committed has ${found.length} commits`,
      );
      assert.equal(found[0]?.sha, h.commitSHA, `${resource.source}: execution ${h.id} reports another commit`);
      assert.equal(
        found[0]?.source,
        resource.source,
        `${resource.source}: execution ${h.id}'s commit names another source`,
      );
    }
    if (resource.historyComplete === false) continue;
    const orphans = commits.filter((c) => c.source === resource.source && !known.has(c.execution));
    assert.deepEqual(
      orphans.map((c) => `${c.sha.slice(0, 7)} ${c.execution}`),
      [],
      `${resource.source}: commits of executions its status does not report`,
    );
  }
}

/** The ReportedExecutions of resources as `kubectl get -o json` returns them (a List or one object). */
export function reportedExecutions(json: string): ReportedExecutions[] {
  const parsed = JSON.parse(json) as { items?: unknown[] };
  const items = (parsed.items ?? [parsed]) as Array<{
    kind: string;
    metadata: { namespace: string; name: string };
    status?: { executionHistory?: ReportedExecutions['history'] };
  }>;
  return items.map((o) => {
    const history = o.status?.executionHistory ?? [];
    return {
      source: `${o.kind}/${o.metadata.namespace}/${o.metadata.name}`,
      history,
      // The history keeps the newest 10.
      historyComplete: history.length < 10,
    };
  });
}
