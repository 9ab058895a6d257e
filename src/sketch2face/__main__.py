"""`python -m sketch2face ...`: the same command line as `sketch2face ...`."""

import sys

from sketch2face.cli import main

sys.exit(main())
