#!/bin/sh
# sshd ForceCommand of the test SSH git server: serves only git commands, like a hosting service, with
# repository paths relative to GCO_GIT_ROOT.
set -f
case "$SSH_ORIGINAL_COMMAND" in
  "git-upload-pack "*|"git-receive-pack "*|"git-upload-archive "*) ;;
  *) echo "this server only serves git" >&2; exit 1 ;;
esac
cmd=${SSH_ORIGINAL_COMMAND%% *}
repo=$(printf '%s' "${SSH_ORIGINAL_COMMAND#* }" | sed "s/^'//; s/'\$//; s#^/*##")
case "/$repo/" in */../*) echo "bad path" >&2; exit 1 ;; esac
exec "$cmd" "$GCO_GIT_ROOT/$repo"
