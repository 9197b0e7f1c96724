// The scenarios against E2E_TARGET (see e2e/README.md): local processes by default, or the cluster of
// KUBECONFIG. node.test.ts runs them on the harness's own node.
import { startTarget } from '../src/target.ts';
import { scenarios } from './scenarios.ts';

describe(`e2e: the users' scenarios through kubectl (E2E_TARGET=${process.env.E2E_TARGET ?? 'local'})`, function () {
  this.timeout(300_000);
  scenarios(startTarget);
});
