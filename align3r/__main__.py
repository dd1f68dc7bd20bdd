"""`python -m align3r` is the `align3r` command."""

import sys

from align3r.cli import main

sys.exit(main())
