#!/usr/bin/env bash
# Print the path of a Python >= 3.12 interpreter (DOLFINx wheel needs it), or fail with a message.
# Order: $PYTHON, python3.12/3.13/python3 on PATH, then pyenv versions (3.12 first: the tested one).
ok() { "$1" -c 'import sys; sys.exit(0 if sys.version_info >= (3, 12) else 1)' >/dev/null 2>&1; }
if [ -n "${PYTHON:-}" ]; then
  if ok "$PYTHON"; then command -v "$PYTHON" || echo "$PYTHON"; exit 0; fi
  echo "error: PYTHON=$PYTHON is not a Python >= 3.12 interpreter" >&2; exit 1
fi
for c in python3.12 python3.13 python3; do
  p=$(command -v "$c" 2>/dev/null) || continue
  if ok "$p"; then echo "$p"; exit 0; fi
done
root=$(pyenv root 2>/dev/null || echo "$HOME/.pyenv")
for p in $(ls -d "$root"/versions/3.12*/bin/python3 "$root"/versions/3.1[3-9]*/bin/python3 2>/dev/null); do
  if ok "$p"; then echo "$p"; exit 0; fi
done
echo "error: no Python >= 3.12 found; install one or pass PYTHON=/path/to/python3.12" >&2
exit 1
