/**
 * One commit from one job: its file operations edit the parent's tree, and the new tree becomes a
 * commit object that the signer sees before it is written. The only way the sidecar makes a commit.
 */
import { FileMode, type FileOperation } from '@gco/sidecar-api';
import { emptyTreeOid, formatCommit, type ObjectStore, type Signature } from '../git/objects.ts';
import { TreeEditor } from '../git/tree-editor.ts';
import type { CommitSigner } from './signer.ts';

export interface CommitStep {
  /** The commit to build on; undefined for the first commit of an empty repository. */
  parent: string | undefined;
  /** The parent's tree (read once per batch, then carried from commit to commit). */
  parentTree: string | undefined;
  operations: readonly FileOperation[];
  author: Signature;
  message: string;
  signer: CommitSigner;
}

/** Writes the commit; undefined when the operations leave the tree as it was (nothing to commit). */
export async function buildCommit(
  objects: ObjectStore,
  step: CommitStep,
): Promise<{ sha: string; tree: string } | undefined> {
  const editor = new TreeEditor(objects, step.parentTree);
  await applyOperations(editor, step.operations);
  const tree = await editor.write();
  if (tree === (step.parentTree ?? emptyTreeOid)) return undefined;
  const commit = formatCommit({
    tree,
    parents: step.parent ? [step.parent] : [],
    author: step.author,
    message: step.message,
  });
  return { sha: await objects.writeCommit(await step.signer.sign(commit)), tree };
}

async function applyOperations(editor: TreeEditor, operations: readonly FileOperation[]): Promise<void> {
  for (const op of operations) {
    const content = Buffer.from(op.content);
    if (op.mode === FileMode.DELETE) {
      await editor.deleteFile(op.path);
    } else if (op.mode === FileMode.APPEND) {
      const existing = (await editor.readFile(op.path)) ?? Buffer.alloc(0);
      const parts = [existing];
      if (existing.length > 0 && existing.at(-1) !== 0x0a) parts.push(Buffer.from('\n'));
      if (op.yamlDocument) parts.push(Buffer.from('---\n'));
      parts.push(content);
      await editor.writeFile(op.path, Buffer.concat(parts));
    } else {
      await editor.writeFile(op.path, content);
    }
  }
}
