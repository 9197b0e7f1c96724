/**
 * Renders an execution: literal files and the objects read for the references become an ordered list
 * of file operations for the git sidecar. Pure: the I/O (reading objects) happens before, the commit
 * after. Files come first, then references, in spec order; every path is checked again after templating.
 */
import { pathProblem } from '@gco/common/validation';
import type { FileEntry, ResourceReference, WriteMode } from '../api/v1/types.ts';
import type { KubeObject } from '../runtime/resources.ts';
import { quotedList } from '../sentence.ts';
import { strategiesWhere, strategyNamed } from './registry.ts';
import { RenderError, type RenderedFile } from './strategies.ts';
import { expandTemplate, TemplateError } from './template.ts';

export interface FileOperation {
  path: string;
  content: Buffer;
  mode: WriteMode;
  yamlDocument: boolean;
}

export interface SkippedReference {
  apiVersion: string;
  kind: string;
  namespace?: string;
  name: string;
  reason: 'ResourceNotFound' | 'FieldNotFound';
  message: string;
}

export interface RenderInput {
  files?: FileEntry[];
  resourceReferences?: ResourceReference[];
  writeMode?: WriteMode;
  /** The object read for each reference, by index; undefined when it does not exist. */
  objects: Array<KubeObject | undefined>;
  /** Namespace each reference was read from (after defaulting), by index. */
  namespaces: Array<string | undefined>;
  instant: Date;
  allowSecretExport: boolean;
}

export interface RenderOutput {
  operations: FileOperation[];
  skipped: SkippedReference[];
}

export function template(text: string, instant: Date, field: string): string {
  try {
    return expandTemplate(text, instant);
  } catch (error) {
    if (error instanceof TemplateError) throw new RenderError('TemplateError', `${field}: ${error.message}`);
    throw error;
  }
}

function checkPath(path: string, field: string): string {
  const problem = pathProblem(path);
  if (problem) throw new RenderError('InvalidPath', `${field}: path ${JSON.stringify(path)} ${problem}`);
  return path;
}

function join(dir: string, name: string): string {
  return `${dir.replace(/\/+$/, '')}/${name}`;
}

/** The strategies a Secret may be exported with when the operator does not allow Secret export. */
const secretSafeStrategies = strategiesWhere((s) => s.secretSafe);

export function render(input: RenderInput): RenderOutput {
  const operations: FileOperation[] = [];
  const skipped: SkippedReference[] = [];
  const defaultMode = input.writeMode ?? 'overwrite';

  (input.files ?? []).forEach((file, i) => {
    const field = `spec.files[${i}]`;
    operations.push({
      path: checkPath(template(file.path, input.instant, `${field}.path`), `${field}.path`),
      content: Buffer.from(template(file.content, input.instant, `${field}.content`)),
      mode: file.writeMode ?? defaultMode,
      yamlDocument: false,
    });
  });

  (input.resourceReferences ?? []).forEach((ref, i) => {
    const field = `spec.resourceReferences[${i}]`;
    const obj = input.objects[i];
    const namespace = input.namespaces[i];
    const describe = `${ref.kind} ${namespace ? `${namespace}/` : ''}${ref.name}`;
    const outputPath = template(ref.output.path, input.instant, `${field}.output.path`);
    const asJson = outputPath.endsWith('.json');
    if (!obj) {
      // A missing required object is found (and retried) before rendering; here only optional ones remain.
      skipped.push({ ...refId(ref, namespace), reason: 'ResourceNotFound', message: `${describe} does not exist` });
      return;
    }
    const strategy = strategyNamed(ref.strategy);
    if (!strategy) {
      // The CRD's enum admits only the registry's names; this holds objects admitted by an older CRD.
      throw new RenderError('InvalidSpec', `${field}.strategy: '${ref.strategy}' is not a strategy of this operator`);
    }
    if (ref.kind === 'Secret' && ref.apiVersion === 'v1' && !strategy.secretSafe && !input.allowSecretExport) {
      throw new RenderError(
        'SecretExportForbidden',
        `${field}: strategy '${ref.strategy}' of Secret ${namespace}/${ref.name} would write every secret value to git; ` +
          `use strategy ${quotedList(secretSafeStrategies, 'or')} with the one key to export, or run the operator with --allow-secret-export`,
      );
    }
    const toDirectory = strategy.writes === 'directory';
    let rendered: RenderedFile[];
    try {
      rendered = strategy.render(obj, { field: ref.field, asJson });
    } catch (error) {
      if (error instanceof RenderError && error.reason === 'FieldNotFound' && ref.optional) {
        skipped.push({ ...refId(ref, namespace), reason: 'FieldNotFound', message: error.message });
        return;
      }
      throw error;
    }
    const mode = ref.writeMode ?? defaultMode;
    for (const file of rendered) {
      if (!toDirectory && outputPath.endsWith('/')) {
        throw new RenderError(
          'InvalidPath',
          `${field}.output.path: '${outputPath}' names a directory; strategy '${ref.strategy}' writes a file`,
        );
      }
      const path = toDirectory ? join(outputPath, file.name) : outputPath;
      operations.push({
        path: checkPath(path, `${field}.output.path`),
        content: file.content,
        mode,
        yamlDocument: mode === 'append' && file.yamlDocument,
      });
    }
  });

  // Two writers of one path: fine when all append (in spec order), a conflict when any overwrites.
  const byPath = new Map<string, FileOperation[]>();
  for (const op of operations) byPath.set(op.path, [...(byPath.get(op.path) ?? []), op]);
  for (const [path, ops] of byPath) {
    if (ops.length > 1 && ops.some((op) => op.mode === 'overwrite')) {
      throw new RenderError(
        'PathConflict',
        `${ops.length} entries write '${path}' and at least one overwrites it: give them different paths, or set writeMode: append on all of them`,
      );
    }
  }
  return { operations, skipped };
}

function refId(ref: ResourceReference, namespace: string | undefined) {
  return { apiVersion: ref.apiVersion, kind: ref.kind, name: ref.name, ...(namespace ? { namespace } : {}) };
}
