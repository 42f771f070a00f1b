#!/usr/bin/python3
"""expect_exit.py CODE CMD [ARGS...]: runs CMD, passes its output through, and
succeeds only if it exits with CODE (lit's `not` accepts any failure)."""
import subprocess
import sys

want = int(sys.argv[1])
proc = subprocess.run(sys.argv[2:])
if proc.returncode != want:
    print(f"expect_exit: {sys.argv[2]} exited with {proc.returncode}, expected {want}",
          file=sys.stderr)
    sys.exit(1)
