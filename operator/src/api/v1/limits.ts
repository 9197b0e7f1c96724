/**
 * The API's bounds, which the schemas declare (schema/) and the operator holds to as it writes status
 * and reads schedules. Upper bounds keep CEL cost estimates finite and objects well under etcd's
 * 1.5 MiB limit.
 */
import { branchNameMaxLength, pathMaxBytes, repositoryUrlMaxLength } from '@gco/common/validation';

export const limits = {
  path: pathMaxBytes,
  url: repositoryUrlMaxLength,
  branch: branchNameMaxLength,
  author: 512,
  message: 65_536,
  fileContent: 1_048_576,
  files: 256,
  references: 256,
  field: 1024,
  schedule: 128,
  kubernetesName: 253,
  labels: 64,
  label: 128,
  historyEntries: 10,
} as const;

/** status.executionHistory[].message is cut to this. */
export const historyMessageMaxLength = 4096;

/**
 * The shortest `@every` interval: each tick is an execution, a commit and a push; below a few seconds a
 * schedule is a loop. The CRD refuses shorter ones, and the operator (controllers/execution/schedule.ts)
 * holds schedules to it too.
 */
export const minimumEvery = { seconds: 5, text: '5s' } as const;
