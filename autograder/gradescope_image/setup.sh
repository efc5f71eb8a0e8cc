#!/usr/bin/env bash
# Gradescope runs this once, as root, when it builds the autograder image (Ubuntu).
set -euo pipefail
cd /autograder/source
export DEBIAN_FRONTEND=noninteractive
supported() { "$1" -c 'import sys; assert (3, 10) <= sys.version_info[:2] <= (3, 13)' 2>/dev/null; }
find_python() {
    for candidate in python3.13 python3.12 python3.11 python3.10 python3; do
        if command -v "$candidate" >/dev/null && supported "$candidate"; then
            command -v "$candidate"; return
        fi
    done
}
PY="$(find_python)"
if [ -z "$PY" ]; then  # a minimal image without Python: the distribution's python3
    apt-get update
    apt-get install -y --no-install-recommends python3 python3-venv ca-certificates
    PY="$(find_python)"
fi
if [ -z "$PY" ]; then  # an older Ubuntu: Python 3.11 from the deadsnakes PPA
    apt-get install -y software-properties-common
    add-apt-repository -y ppa:deadsnakes/ppa
    apt-get update
    apt-get install -y python3.11 python3.11-venv
    PY=python3.11
fi
if ! "$PY" -c 'import ensurepip' 2>/dev/null; then  # Debian and Ubuntu ship venv apart
    apt-get update
    apt-get install -y "$(basename "$PY")-venv" || apt-get install -y python3-venv
fi
if ! ldconfig -p | grep -q 'libseccomp.so.2 '; then  # the sandbox's seccomp filter
    apt-get update
    apt-get install -y libseccomp2
fi
"$PY" -m venv /autograder/venv
/autograder/venv/bin/pip install --no-cache-dir --upgrade "pip==24.3.1"
/autograder/venv/bin/pip install --no-cache-dir -c constraints.txt -r requirements.txt
