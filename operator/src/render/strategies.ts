/**
 * How a live object becomes files: `dump`, `fields`, `single-field`, exactly as the API contract says.
 * Pure functions of the object; the same object always gives the same bytes. registry.ts declares them.
 */
import { stringify } from 'yaml';
import type { KubeObject } from '../runtime/resources.ts';

export class RenderError extends Error {
  readonly reason:
    | 'FieldNotFound'
    | 'SecretExportForbidden'
    | 'InvalidPath'
    | 'PathConflict'
    | 'TemplateError'
    | 'InvalidSpec';
  constructor(reason: RenderError['reason'], message: string) {
    super(message);
    this.reason = reason;
  }
}

export interface RenderedFile {
  /** Relative to the output path: '' for the file itself, a key name for `fields`. */
  name: string;
  content: Buffer;
  /** A whole YAML document (appended after a `---` line). */
  yamlDocument: boolean;
}

const noisyMetadata = ['managedFields', 'resourceVersion', 'uid', 'generation', 'creationTimestamp', 'selfLink'];
const lastApplied = 'kubectl.kubernetes.io/last-applied-configuration';

function toYaml(value: unknown): string {
  return stringify(value, { lineWidth: 0, aliasDuplicateObjects: false });
}

function toJson(value: unknown): string {
  return `${JSON.stringify(value, null, 2)}\n`;
}

/** The object without what the server fills in, so that an unchanged object renders byte-identically. */
export function cleanForDump(obj: KubeObject): Record<string, unknown> {
  const { status: _status, ...rest } = obj;
  const metadata: Record<string, unknown> = { ...obj.metadata };
  for (const key of noisyMetadata) delete metadata[key];
  if (obj.metadata.annotations) {
    const annotations = { ...obj.metadata.annotations };
    delete annotations[lastApplied];
    if (Object.keys(annotations).length > 0) metadata.annotations = annotations;
    else delete metadata.annotations;
  }
  return { ...rest, metadata };
}

export function dump(obj: KubeObject, asJson: boolean): RenderedFile[] {
  const clean = cleanForDump(obj);
  return [{ name: '', content: Buffer.from(asJson ? toJson(clean) : toYaml(clean)), yamlDocument: !asJson }];
}

const isSecret = (obj: KubeObject) => obj.kind === 'Secret' && (obj.apiVersion ?? 'v1') === 'v1';

function scalarOrDocument(value: unknown, asJson: boolean): string {
  if (typeof value === 'string') return value;
  if (value === null || typeof value !== 'object') return String(value);
  return asJson ? toJson(value) : toYaml(value);
}

export function fields(obj: KubeObject): RenderedFile[] {
  const data = obj.data as Record<string, string> | undefined;
  const binary = obj.binaryData as Record<string, string> | undefined;
  if (data !== undefined || binary !== undefined) {
    const files: RenderedFile[] = [];
    for (const [key, value] of Object.entries(data ?? {})) {
      // A Secret's data is base64; a ConfigMap's is text.
      const content = isSecret(obj) ? Buffer.from(value, 'base64') : Buffer.from(value);
      files.push({ name: key, content, yamlDocument: false });
    }
    for (const [key, value] of Object.entries(binary ?? {})) {
      files.push({ name: key, content: Buffer.from(value, 'base64'), yamlDocument: false });
    }
    return files;
  }
  const spec = obj.spec as Record<string, unknown> | undefined;
  if (spec === undefined || typeof spec !== 'object') {
    throw new RenderError(
      'FieldNotFound',
      `${obj.kind} ${obj.metadata.name} has no .data, .binaryData or .spec to split into files`,
    );
  }
  return Object.entries(spec).map(([key, value]) => ({
    name: key,
    content: Buffer.from(scalarOrDocument(value, false)),
    yamlDocument: false,
  }));
}

/**
 * Splits a dotted path: `spec.replicas`, `metadata.labels.app`, `spec.containers.0.image`,
 * `metadata.annotations["example.com/team"]` (a quoted segment may hold dots).
 */
export function parseFieldPath(path: string): string[] {
  const segments: string[] = [];
  let i = 0;
  let current = '';
  while (i < path.length) {
    const ch = path[i] as string;
    if (ch === '.') {
      if (current) segments.push(current);
      current = '';
      i++;
    } else if (ch === '[') {
      if (current) segments.push(current);
      current = '';
      const quote = path[i + 1];
      if (quote === '"' || quote === "'") {
        const end = path.indexOf(`${quote}]`, i + 2);
        if (end < 0) throw new RenderError('FieldNotFound', `field path ${JSON.stringify(path)}: unclosed [${quote}`);
        segments.push(path.slice(i + 2, end));
        i = end + 2;
      } else {
        const end = path.indexOf(']', i);
        if (end < 0) throw new RenderError('FieldNotFound', `field path ${JSON.stringify(path)}: unclosed [`);
        segments.push(path.slice(i + 1, end));
        i = end + 1;
      }
    } else {
      current += ch;
      i++;
    }
  }
  if (current) segments.push(current);
  if (segments.length === 0) throw new RenderError('FieldNotFound', `field path ${JSON.stringify(path)} is empty`);
  return segments;
}

export function singleField(obj: KubeObject, field: string, asJson: boolean): RenderedFile[] {
  const data = obj.data as Record<string, string> | undefined;
  const binary = obj.binaryData as Record<string, string> | undefined;
  // An exact key of .data/.binaryData first, so keys with dots (tls.crt) need no quoting.
  if (data && Object.hasOwn(data, field)) {
    const value = data[field] as string;
    return [
      { name: '', content: isSecret(obj) ? Buffer.from(value, 'base64') : Buffer.from(value), yamlDocument: false },
    ];
  }
  if (binary && Object.hasOwn(binary, field)) {
    return [{ name: '', content: Buffer.from(binary[field] as string, 'base64'), yamlDocument: false }];
  }
  let value: unknown = obj;
  for (const segment of parseFieldPath(field)) {
    if (Array.isArray(value) && /^\d+$/.test(segment)) value = value[Number(segment)];
    else if (value !== null && typeof value === 'object' && Object.hasOwn(value, segment)) {
      value = (value as Record<string, unknown>)[segment];
    } else {
      value = undefined;
    }
    if (value === undefined) {
      throw new RenderError(
        'FieldNotFound',
        `${obj.kind} ${obj.metadata.namespace ?? ''}/${obj.metadata.name} has no field ${JSON.stringify(field)}`,
      );
    }
  }
  if (isSecret(obj) && typeof value === 'string' && field.startsWith('data.')) {
    return [{ name: '', content: Buffer.from(value, 'base64'), yamlDocument: false }];
  }
  return [{ name: '', content: Buffer.from(scalarOrDocument(value, asJson)), yamlDocument: false }];
}
