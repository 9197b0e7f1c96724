export { gitInvalidBranchNames, shadowingBranchNames, validBranchNames } from './branch-names.ts';
export { cacheDir, cachedEntry, type HeldLock, lock, uniqueTemp, withLock } from './cache.ts';
export { createTestCertificates, type TestCertificates } from './certificates.ts';
export {
  ControlPlane,
  type ControlPlaneOptions,
  controlPlaneBinDir,
  kubernetesServiceIp,
  statusCode,
} from './control-plane.ts';
export { type CrashingGit, crashingGit } from './crashing-git.ts';
export { type Docker, releaseSharedDocker, sharedDocker, useDocker } from './docker.ts';
export { compiledCondition, entryPoint, useCompiledBuild } from './entry-point.ts';
export {
  assertExactlyOnce,
  commitsWithTrailers,
  type ReportedExecutions,
  reportedExecutions,
  type TrailedCommit,
} from './exactly-once.ts';
export { type GitHttpAuth, type GitHttpRequest, GitHttpServer, type RouteHandler } from './git-http-server.ts';
export { GitHubStandIn, type PullRequestState, type StoredPullRequest } from './github-stand-in.ts';
export { helmBinary } from './helm.ts';
export { hostPathProvisionerName } from './hostpath-provisioner.ts';
export {
  type BuiltImage,
  type BuiltImages,
  buildImages,
  devTag,
  type ImageKey,
  images,
  imagesDir,
  loadImage,
  machineCertificates,
  secretCanary,
  withDockerfileInputs,
} from './images.ts';
export { LocalRegistry } from './local-registry.ts';
export { manifestRuntimeEnv } from './manifest-container.ts';
export { forwardTcp, freePort, waitFor } from './net.ts';
export { Cluster, type ClusterOptions, type NodeBinaries, nodeBinaries } from './node.ts';
export { type NodeLayout, nodeLayout } from './node-slot.ts';
export {
  aggregateClusterRoles,
  installOperatorRbac,
  type OperatorProcess,
  operatorNamespace,
  operatorServiceAccount,
  startOperator,
} from './operator-process.ts';
export { OtlpReceiver, type ReceivedSpan } from './otlp-receiver.ts';
export { repoRoot } from './paths.ts';
export { type ProcessMemory, processMemory, processTree, TreePeakSampler } from './process-memory.ts';
export { type ManagedProcess, type RunResult, run, runOk, startProcess } from './processes.ts';
export { createBareRepository, defaultBranch, generatedFilePath, type RepositoryShape } from './repositories.ts';
export { commitCount, executionsOn, fileAt, headOf } from './repository-contents.ts';
export { type ResidentTogether, residentTogether } from './resident-together.ts';
export { sharedCluster, sharedControlPlane, stopSharedCluster, stopSharedControlPlane } from './shared.ts';
export { type SidecarProcess, startSidecar } from './sidecar-process.ts';
export { generateSshKey, SshGitServer, type SshGitServerOptions, type SshKeyPair } from './ssh-server.ts';
export { type TarEntry, tarEntries, tarFiles } from './tar.ts';
export { removeTempDirs, tempDir } from './temp.ts';
export { type TiltBinaries, tiltBinaries } from './tilt.ts';
export {
  invalidAuthors,
  invalidPaths,
  invalidRepositoryUrls,
  validAuthors,
  validPaths,
  validRepositoryUrls,
} from './validation-cases.ts';
