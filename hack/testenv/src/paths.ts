import { dirname, join } from 'node:path';

/** The repository's top directory. */
export const repoRoot = join(dirname(new URL(import.meta.url).pathname), '../../..');
