#!/usr/bin/env bash
# Create .venv-upstream/ at the repository root with upstream gmm-mi 0.8.2 and its
# pinned dependencies (scikit-learn 1.5.2 etc., see requirements-upstream.txt).
#
# Idempotent: if the venv exists, was completed, and matches the requirements file,
# nothing is done.  A half-built venv (interrupted run) is removed and rebuilt.
# Exit status is non-zero when the venv cannot be built (e.g. no network).
#
# Environment:
#   PYTHON               interpreter used to create the venv (default: python3)
#   FASTMI_UPSTREAM_VENV target directory (default: <repo>/.venv-upstream)
set -euo pipefail

here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
root="$(cd "$here/../.." && pwd)"
venv="${FASTMI_UPSTREAM_VENV:-$root/.venv-upstream}"
req="$here/requirements-upstream.txt"
py="${PYTHON:-python3}"
stamp="$venv/.fastmi-complete"
want="$(cat "$req")"

# One builder at a time (parallel pytest sessions, bench + test run together).
# (the lock is taken on this script itself, so no stray lock file is left behind)
mkdir -p "$(dirname "$venv")"
exec 9<"${BASH_SOURCE[0]}"
if command -v flock >/dev/null 2>&1; then
    flock 9
fi

if [[ -f "$stamp" && "$(cat "$stamp")" == "$want" && -x "$venv/bin/python" ]] \
   && "$venv/bin/python" -c "import gmm_mi.mi, sklearn" >/dev/null 2>&1; then
    echo "make_venv.sh: $venv is up to date"
    exit 0
fi

start=$(date +%s)
rm -rf "$venv"
cleanup() { rc=$?; if [[ $rc -ne 0 ]]; then rm -rf "$venv"; echo "make_venv.sh: failed (rc=$rc), removed $venv" >&2; fi; }
trap cleanup EXIT

"$py" -m venv "$venv"
export PIP_DISABLE_PIP_VERSION_CHECK=1 PIP_NO_INPUT=1
"$venv/bin/python" -m pip install --quiet --prefer-binary -r "$req"
"$venv/bin/python" - <<'PY'
import gmm_mi.mi, sklearn, numpy
from importlib.metadata import version
assert sklearn.__version__ == "1.5.2", sklearn.__version__
print("make_venv.sh: gmm-mi", version("gmm-mi"), "| scikit-learn", sklearn.__version__, "| numpy", numpy.__version__)
PY
printf '%s' "$want" > "$stamp"
echo "make_venv.sh: built $venv in $(( $(date +%s) - start )) s"
