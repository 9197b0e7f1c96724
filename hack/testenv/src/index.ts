export { ControlPlane, controlPlaneBinDir, statusCode, type ControlPlaneOptions } from './control-plane.ts';
export { GitHttpServer, type GitHttpAuth, type GitHttpRequest, type RouteHandler } from './git-http-server.ts';
export { SshGitServer, generateSshKey, type SshKeyPair } from './ssh-server.ts';
export { createBareRepository, generatedFilePath, defaultBranch, type RepositoryShape } from './repositories.ts';
export { freePort, waitFor } from './net.ts';
export { run, runOk, startProcess, type ManagedProcess, type RunResult } from './processes.ts';
export { repoRoot } from './paths.ts';
export { sharedControlPlane, stopSharedControlPlane } from './shared.ts';
export { tempDir } from './temp.ts';
