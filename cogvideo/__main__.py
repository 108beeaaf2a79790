"""`python -m cogvideo ...`: the command line lives in the `cli` package, a face like ui/ and api/.
This entry point only hands over; no module of the engine package imports anything above it."""

import sys

from cli.main import main

sys.exit(main())
