#!/usr/bin/env bash
# Prints, after the test suite, the tests that could not run on this
# machine (no GPU, no MPI, a build without the CUDA backend) and lit's note
# saying why: nothing is skipped silently. Reads ctest's log.
#   scripts/not-run.sh BUILD_DIR/Testing/Temporary/LastTest.log
log=${1:?usage: not-run.sh LastTest.log}
[ -f "$log" ] || exit 0
awk '
  /^lit: .*note: (the |shear )/ { sub(/^lit: [^ ]* note: /, "note: "); lines[n++] = $0; next }
  /^Unsupported Tests/ { u = 1; lines[n++] = $0; next }
  u && /^$/ { u = 0 }
  u { lines[n++] = $0 }
  END { if (n) { print "Not run on this machine (and why):"; for (i = 0; i < n; i++) print "  " lines[i] } }
' "$log"
