/**
 * Makes bare git repositories of a given shape quickly, with `git fast-import` (one process, one pack),
 * so a 100k-file, 10k-commit repository takes seconds rather than the minutes a work tree would.
 */
import { spawn } from 'node:child_process';
import { once } from 'node:events';
import { mkdir } from 'node:fs/promises';
import { dirname } from 'node:path';
import { runOk } from './processes.ts';

export interface RepositoryShape {
  /** Files in the first commit, spread over directories of `filesPerDirectory`. Default 0 (empty repository). */
  files?: number;
  /** Commits in all; commits after the first each change one file. Default 1 when files > 0. */
  commits?: number;
  /** Bytes per file (at least a few bytes of unique content). Default 32. */
  fileSize?: number;
  filesPerDirectory?: number;
  branch?: string;
  /** Extra literal files in the first commit, path -> content. */
  extraFiles?: Record<string, string>;
}

export const defaultBranch = 'main';

/** Path of the n-th generated file. */
export function generatedFilePath(n: number, filesPerDirectory = 100): string {
  const dir = Math.floor(n / filesPerDirectory);
  return `data/d${String(dir).padStart(5, '0')}/f${String(n).padStart(7, '0')}.txt`;
}

function fileContent(n: number, size: number, revision = 0): string {
  const head = `file ${n} revision ${revision}\n`;
  if (head.length >= size) return head;
  // Pseudo-random filler so packs do not compress to nothing (benchmarks need realistic sizes).
  let x = (n * 2654435761 + revision * 40503) >>> 0;
  const chars: string[] = [];
  for (let i = head.length; i < size - 1; i++) {
    x = (x * 1103515245 + 12345) >>> 0;
    chars.push(String.fromCharCode(97 + ((x >>> 16) % 26)));
  }
  return `${head}${chars.join('')}\n`;
}

/** Creates a bare repository at `path` (parents created) with the given shape. */
export async function createBareRepository(path: string, shape: RepositoryShape = {}): Promise<void> {
  const branch = shape.branch ?? defaultBranch;
  await mkdir(dirname(path), { recursive: true });
  await runOk('git', ['init', '--quiet', '--bare', `--initial-branch=${branch}`, path]);
  const files = shape.files ?? 0;
  const extra = Object.entries(shape.extraFiles ?? {});
  if (files === 0 && extra.length === 0) return;
  const commits = Math.max(1, shape.commits ?? 1);
  const size = shape.fileSize ?? 32;
  const perDir = shape.filesPerDirectory ?? 100;

  const child = spawn('git', ['fast-import', '--quiet', '--done'], { cwd: path, stdio: ['pipe', 'ignore', 'pipe'] });
  const stderr: Buffer[] = [];
  child.stderr.on('data', (d: Buffer) => stderr.push(d));
  const closed = once(child, 'close');
  const write = async (text: string) => {
    if (!child.stdin.write(text)) await once(child.stdin, 'drain');
  };
  const data = (content: string) => `data ${Buffer.byteLength(content)}\n${content}\n`;
  const time = 1_700_000_000;
  for (let c = 0; c < commits; c++) {
    await write(
      `commit refs/heads/${branch}\nmark :${c + 1}\n` +
        `author Test Author <author@example.com> ${time + c} +0000\n` +
        `committer Test Author <author@example.com> ${time + c} +0000\n` +
        data(c === 0 ? 'Initial content' : `Change ${c}`),
    );
    if (c === 0) {
      for (const [p, content] of extra) await write(`M 100644 inline ${p}\n${data(content)}`);
      let batch = '';
      for (let n = 0; n < files; n++) {
        batch += `M 100644 inline ${generatedFilePath(n, perDir)}\n${data(fileContent(n, size))}`;
        if (batch.length > 1 << 20) {
          await write(batch);
          batch = '';
        }
      }
      await write(batch);
    } else {
      const n = files > 0 ? (c * 7919) % files : 0;
      const target = files > 0 ? generatedFilePath(n, perDir) : 'history.txt';
      await write(`M 100644 inline ${target}\n${data(fileContent(n, size, c))}`);
    }
    await write('\n');
  }
  await write('done\n');
  child.stdin.end();
  const [code] = (await closed) as [number];
  if (code !== 0) throw new Error(`git fast-import failed: ${Buffer.concat(stderr).toString()}`);
}
