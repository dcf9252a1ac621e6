"""Entry point of scripts/chaos.sh: loads every case module and runs the matrix."""

import os
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

import matrix  # noqa: E402

sys.modules["matrix"] = matrix
import cases_http  # noqa: E402,F401
import cases_store  # noqa: E402,F401
import cases_flood  # noqa: E402,F401
import cases_disk  # noqa: E402,F401
import cases_crash  # noqa: E402,F401
import cases_ops  # noqa: E402,F401
import cases_soak  # noqa: E402,F401

sys.exit(matrix.main(sys.argv[1:]))
