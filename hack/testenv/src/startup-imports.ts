/**
 * What a process loads as it starts, from the sources: the modules its entry point reaches through
 * imports that load with the importing module (package-boundaries.ts's `load` kind), following relative
 * imports and our packages' exports; `import type` (erased) and `import()` (loaded when the code runs
 * it) end a path. Checked for the operator (hack/testenv/test/repository-checks.test.ts), so that a
 * module only an optional feature needs stays lazy.
 *
 * Other packages (npm, node:) are recorded where our code imports them, not followed into: what one
 * of them loads is its own affair, and the list below names what our code must not pull in.
 */
import { dirname, join, relative, sep } from 'node:path';
import {
  type ExportTarget,
  importStatements,
  type Manifest,
  ours,
  type SourceFile,
  type WorkspacePackage,
  workspacePackages,
} from './package-boundaries.ts';

/** A package a process must not load at start, and why it would be wasted there. */
export interface NotAtStart {
  name: string;
  why: string;
}

/** The operator's entry point, and what it loads only on the path that needs it. */
export const operatorStart: { entry: string; notAtStart: NotAtStart[] } = {
  entry: 'operator/src/main.ts',
  notAtStart: [
    { name: 'typebox', why: 'only the CRD generator (api/generate.ts) and tests need JSON schemas' },
    { name: '@octokit/graphql', why: 'only a PullRequest on GitHub calls GitHub (controllers/pullrequest/github.ts)' },
    { name: '@opentelemetry/sdk-node', why: 'only OTEL_* asking for trace export needs it (@gco/common/telemetry)' },
    {
      name: '@kubernetes/client-node',
      why: 'only a kubeconfig with an exec plugin or auth provider needs it (runtime/cluster-auth.ts)',
    },
  ],
};

/** The conditions Node resolves an export with when nothing asks for others (`--conditions`). */
const defaultConditions = new Set(['node', 'import', 'default']);

/** An export's path as Node picks it: the first condition, in the object's order, that applies. */
function exportPath(target: ExportTarget | undefined): string | undefined {
  if (typeof target === 'string' || target === undefined) return target;
  for (const [condition, value] of Object.entries(target)) {
    if (defaultConditions.has(condition)) return exportPath(value);
  }
  return undefined;
}

/** `@scope/name/sub` -> `@scope/name`, `name/sub` -> `name`, `node:fs` -> `node:fs`. */
function packageName(specifier: string): string {
  const parts = specifier.split('/');
  return (specifier.startsWith('@') ? parts.slice(0, 2) : parts.slice(0, 1)).join('/');
}

export interface StartReach {
  /** Our files it loads, each with the file that first imported it (undefined for the entry point). */
  files: Map<string, string | undefined>;
  /** Other packages it loads, each with the first of our files that imports it. */
  packages: Map<string, string>;
  /** Imports that name a file or export of ours that does not exist: the walk could not follow them. */
  unresolved: string[];
}

/** Everything `entry` loads as it starts (see the module's comment). */
export function loadedAtStart(
  entry: string,
  files: SourceFile[],
  manifests: Map<string, Manifest>,
  packages: WorkspacePackage[] = workspacePackages,
): StartReach {
  const texts = new Map(files.map((f) => [f.path, f.text]));
  const reach: StartReach = { files: new Map([[entry, undefined]]), packages: new Map(), unresolved: [] };
  const resolveFile = (from: string, specifier: string): string | undefined => {
    if (specifier.startsWith('.')) {
      const path = relative('.', join(dirname(from), specifier))
        .split(sep)
        .join('/');
      // A '.js' specifier of a TypeScript source, as tsc's own resolution allows.
      return [path, path.replace(/\.js$/, '.ts')].find((p) => texts.has(p));
    }
    const [name, subpath] = ours(specifier) as [string, string];
    const dir = packages.find((p) => p.name === name)?.dir;
    const target = exportPath(manifests.get(name)?.exports?.[subpath]);
    const path = dir && target ? join(dir, target).split(sep).join('/') : undefined;
    return path && texts.has(path) ? path : undefined;
  };
  const queue = [entry];
  for (let file = queue.shift(); file !== undefined; file = queue.shift()) {
    const text = texts.get(file);
    if (text === undefined) {
      reach.unresolved.push(`${file}: no such source`);
      continue;
    }
    for (const { specifier, kind } of importStatements(text)) {
      if (kind !== 'load') continue;
      if (!specifier.startsWith('.') && !ours(specifier)) {
        const name = packageName(specifier);
        if (!reach.packages.has(name)) reach.packages.set(name, file);
        continue;
      }
      const target = resolveFile(file, specifier);
      if (target === undefined) reach.unresolved.push(`${file}: ${specifier}`);
      else if (!reach.files.has(target)) {
        reach.files.set(target, file);
        queue.push(target);
      }
    }
  }
  return reach;
}

/** The imports from the entry point to `file`, the entry point first. */
export function importChain(reach: StartReach, file: string): string[] {
  const chain: string[] = [];
  for (let at: string | undefined = file; at !== undefined; at = reach.files.get(at)) chain.unshift(at);
  return chain;
}

/** What `entry` loads at start that it must not, each with the chain of imports that loads it. */
export function startViolations(
  entry: string,
  notAtStart: NotAtStart[],
  files: SourceFile[],
  manifests: Map<string, Manifest>,
  packages: WorkspacePackage[] = workspacePackages,
): string[] {
  const reach = loadedAtStart(entry, files, manifests, packages);
  const problems = reach.unresolved.map((u) => `cannot follow ${u}, so what it loads is unknown`);
  for (const { name, why } of notAtStart) {
    const importer = reach.packages.get(name);
    if (importer === undefined) continue;
    problems.push(
      `${entry} loads ${name} at start, through ${[...importChain(reach, importer), name].join(' -> ')}. ` +
        `Not at start because ${why}: import it with import() where it is used, or only its types with \`import type\``,
    );
  }
  return problems;
}
