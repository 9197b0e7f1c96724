/**
 * The packages' boundaries, which are the architecture: what may import what. Checked over the sources
 * (hack/testenv/test/repository-checks.test.ts), so that a shortcut across them fails the suite:
 *
 *   @gco/common        imports nothing of ours
 *   @gco/sidecar-api   @gco/common
 *   @gco/operator      @gco/common, @gco/sidecar-api   (never the sidecar)
 *   @gco/git-sidecar   @gco/common, @gco/sidecar-api   (never the operator)
 *   @gco/testenv       anything (the harness starts and checks both processes)
 *
 * A package's tests and benchmarks may import the harness too. Another package is imported by its name
 * and one of its package.json exports, never by a relative path into its directory, and only when
 * package.json declares it (dependencies for src/, or devDependencies for the rest).
 */
import { readdirSync, readFileSync } from 'node:fs';
import { dirname, join, relative, resolve, sep } from 'node:path';

export interface WorkspacePackage {
  name: string;
  /** Relative to the repository root. */
  dir: string;
  /** The packages of ours its src/ may import. */
  mayImport: string[];
}

export const harness = '@gco/testenv';

export const workspacePackages: WorkspacePackage[] = [
  { name: '@gco/common', dir: 'common', mayImport: [] },
  { name: '@gco/sidecar-api', dir: 'sidecar-api', mayImport: ['@gco/common'] },
  { name: '@gco/operator', dir: 'operator', mayImport: ['@gco/common', '@gco/sidecar-api'] },
  { name: '@gco/git-sidecar', dir: 'git-sidecar', mayImport: ['@gco/common', '@gco/sidecar-api'] },
  {
    name: harness,
    dir: 'hack/testenv',
    mayImport: ['@gco/common', '@gco/sidecar-api', '@gco/operator', '@gco/git-sidecar'],
  },
];

/** One source file, as the checker sees it. */
export interface SourceFile {
  /** Relative to the repository root, with '/'. */
  path: string;
  text: string;
}

/** A package.json export: a path, or conditions (`{ "gco-compiled": …, "default": … }`) to paths. */
export type ExportTarget = string | { [condition: string]: ExportTarget };

export interface Manifest {
  name: string;
  exports?: Record<string, ExportTarget>;
  dependencies?: Record<string, string>;
  devDependencies?: Record<string, string>;
}

const sourceExtensions = /\.(ts|js|mjs|cjs)$/;

/**
 * When an import loads its module: `load`, with the importing module (`import x from`, `import 'x'`,
 * `export … from`, and require(), which a regular expression cannot tell apart from one inside a
 * function); `type`, never (`import type`, `export type … from`: erased with the types); `dynamic`, when
 * the code runs `import('x')` (`typeof import('x')`, a type, reads the same and loads nothing either).
 *
 * `import { type A } from 'x'` loads x: with verbatimModuleSyntax (tsconfig.base.json) tsc keeps it as
 * `import {} from 'x'`, and Node's type stripping keeps it too. Only `import type` is erased.
 */
export type ImportKind = 'load' | 'type' | 'dynamic';

export interface ImportStatement {
  specifier: string;
  kind: ImportKind;
}

const importPatterns: Array<[RegExp, (clause: string) => ImportKind]> = [
  // The clause between the keyword and `from`, which says whether only types are imported. A default
  // import named `type` (`import type from 'x'`) is a value.
  [/^\s*(?:import|export)\b([^'"`;]*?)\bfrom\s*['"]([^'"]+)['"]/gm, (c) => (/^\s*type\s+\S/.test(c) ? 'type' : 'load')],
  [/^\s*import()\s*['"]([^'"]+)['"]/gm, () => 'load'],
  [/\bimport\(()\s*['"]([^'"]+)['"]\s*\)/g, () => 'dynamic'],
  [/\brequire\(()\s*['"]([^'"]+)['"]\s*\)/g, () => 'load'],
];

/** The imports of a source file, in the order of the patterns (static, side-effect, dynamic, require). */
export function importStatements(text: string): ImportStatement[] {
  const found: ImportStatement[] = [];
  for (const [pattern, kindOf] of importPatterns) {
    for (const m of text.matchAll(pattern)) found.push({ specifier: m[2] as string, kind: kindOf(m[1] as string) });
  }
  return found;
}

/** The module specifiers a source file imports (static, dynamic, re-exports, require; types too). */
export function importsOf(text: string): string[] {
  return [...new Set(importStatements(text).map((s) => s.specifier))];
}

function packageOf(path: string, packages: WorkspacePackage[]): WorkspacePackage | undefined {
  return packages.find((p) => path === p.dir || path.startsWith(`${p.dir}/`));
}

/** `@gco/x/sub` -> [`@gco/x`, `./sub`]; undefined for a specifier that names none of ours. */
export function ours(specifier: string): [string, string] | undefined {
  const m = /^(@gco\/[^/]+)(\/.*)?$/.exec(specifier);
  return m ? [m[1] as string, m[2] ? `.${m[2]}` : '.'] : undefined;
}

/**
 * Every import that crosses a boundary the wrong way, as `file: what is wrong`. `manifests` maps a
 * package's name to its package.json.
 */
export function boundaryViolations(
  files: SourceFile[],
  manifests: Map<string, Manifest>,
  packages: WorkspacePackage[] = workspacePackages,
): string[] {
  const problems: string[] = [];
  for (const file of files) {
    const own = packageOf(file.path, packages);
    // What ships: a package's src/. The harness's src/ is test tooling, apart from the development git
    // server its image runs, which imports nothing of ours: its dependencies are what that image needs.
    const inSrc = own !== undefined && own.name !== harness && file.path.startsWith(`${own.dir}/src/`);
    const manifest = own && manifests.get(own.name);
    for (const specifier of importsOf(file.text)) {
      if (specifier.startsWith('.')) {
        const target = relative('.', join(dirname(file.path), specifier))
          .split(sep)
          .join('/');
        const into = packageOf(target, packages);
        if (into && into !== own) {
          problems.push(`${file.path}: imports ${specifier}, inside ${into.name}: import it as ${into.name}`);
        } else if (!into && own) {
          problems.push(`${file.path}: imports ${specifier}, outside its package ${own.name}`);
        }
        continue;
      }
      const named = ours(specifier);
      if (!named) continue;
      const [name, subpath] = named;
      const target = manifests.get(name);
      if (!target) {
        problems.push(`${file.path}: imports ${specifier}, which is no package of this repository`);
        continue;
      }
      if (!Object.hasOwn(target.exports ?? {}, subpath)) {
        problems.push(`${file.path}: imports ${specifier}, which ${name} does not export`);
      }
      if (!own || name === own.name) continue;
      const allowed = inSrc ? own.mayImport : [...own.mayImport, harness];
      if (!allowed.includes(name)) {
        problems.push(
          `${file.path}: imports ${name}; ${own.name}${inSrc ? "'s src/" : ''} may import ${allowed.join(', ') || 'none of our packages'}`,
        );
        continue;
      }
      const declared = inSrc ? manifest?.dependencies : { ...manifest?.dependencies, ...manifest?.devDependencies };
      if (!declared?.[name]) {
        problems.push(
          `${file.path}: imports ${name}, which ${own.dir}/package.json does not list in ${inSrc ? 'dependencies' : 'dependencies or devDependencies'}`,
        );
      }
    }
  }
  // The manifests say the same as the imports: no dependency the direction forbids, even an unused one.
  for (const pkg of packages) {
    const manifest = manifests.get(pkg.name);
    for (const [field, allowed] of [
      ['dependencies', pkg.mayImport],
      ['devDependencies', [...pkg.mayImport, harness]],
    ] as const) {
      for (const name of Object.keys(manifest?.[field] ?? {})) {
        if (ours(name) && name !== pkg.name && !allowed.includes(name)) {
          problems.push(`${pkg.dir}/package.json: ${field} lists ${name}, against the dependency direction`);
        }
      }
    }
  }
  return problems;
}

const skipped = new Set(['node_modules', '.git', 'gen', 'dist', 'coverage', '.tmp']);

function walk(root: string, dir: string, out: SourceFile[], skip: Set<string>): void {
  for (const entry of readdirSync(join(root, dir), { withFileTypes: true })) {
    if (skip.has(entry.name)) continue;
    const path = dir ? `${dir}/${entry.name}` : entry.name;
    if (entry.isDirectory()) walk(root, path, out, skip);
    else if (sourceExtensions.test(entry.name)) out.push({ path, text: readFileSync(join(root, path), 'utf8') });
  }
}

/**
 * The repository's sources (every package, the harness, e2e/ and hack/ scripts) and its packages'
 * manifests. Generated code (gen/) only with `generated`: it crosses no boundary, but a process loads it.
 */
export function readRepository(
  root: string,
  opts: { generated?: boolean } = {},
): { files: SourceFile[]; manifests: Map<string, Manifest> } {
  const files: SourceFile[] = [];
  walk(resolve(root), '', files, opts.generated ? new Set([...skipped].filter((d) => d !== 'gen')) : skipped);
  const manifests = new Map<string, Manifest>();
  for (const pkg of workspacePackages) {
    const manifest = JSON.parse(readFileSync(join(root, pkg.dir, 'package.json'), 'utf8')) as Manifest;
    manifests.set(manifest.name, manifest);
  }
  return { files, manifests };
}

/**
 * The packages an image of `name` runs: the package and, transitively, the packages of ours its
 * package.json lists in dependencies.
 */
export function runtimePackages(name: string, manifests: Map<string, Manifest>): string[] {
  const seen = new Set<string>();
  const visit = (n: string) => {
    if (seen.has(n)) return;
    seen.add(n);
    for (const dep of Object.keys(manifests.get(n)?.dependencies ?? {})) if (ours(dep)) visit(dep);
  };
  visit(name);
  return [...seen];
}
