/**
 * The step where a commit is signed, between formatting a commit object and writing it. Every commit
 * the sidecar makes goes through a `CommitSigner`; today's is `unsigned`, which changes nothing.
 *
 * A signing method (GPG, SSH, as Flux's image automation offers) plugs in here and nowhere else in
 * this process: a signer runs `gpg --detach-sign --armor` or `ssh-keygen -Y sign -n git` over the bytes
 * it is given and returns `withSignature(bytes, output)`. The request then has to name the key (a field
 * beside the credentials, written to a private file like them, and part of the scheduler's batch key so
 * that one batch has one signer), and `BatchExecutor` picks the signer from its first job's request
 * (`signerFor`).
 */

export interface CommitSigner {
  /**
   * Takes a commit object as it would be written unsigned (headers, a blank line, the message) and
   * returns the object to write. The bytes given are exactly what `git verify-commit` checks the
   * signature against once it has taken the `gpgsig` header out again.
   */
  sign(commit: Buffer): Promise<Buffer>;
}

/** Commits as the sidecar has always written them. */
export const unsigned: CommitSigner = {
  sign: async (commit) => commit,
};

/**
 * The commit with `signature` (an armored GPG or SSH signature) as its `gpgsig` header, the way git
 * writes it (commit.c, do_sign_commit): last among the headers, every line after the first indented by
 * one space. SHA-1 repositories only, as everything the sidecar writes (SHA-256 ones use `gpgsig-sha256`).
 */
export function withSignature(commit: Buffer, signature: string): Buffer {
  const end = commit.indexOf('\n\n');
  if (end < 0) throw new Error('a commit object without a message cannot be signed');
  const lines = signature.replace(/\n$/, '').split('\n');
  const header = `gpgsig ${lines.join('\n ')}\n`;
  return Buffer.concat([commit.subarray(0, end + 1), Buffer.from(header), commit.subarray(end + 1)]);
}
