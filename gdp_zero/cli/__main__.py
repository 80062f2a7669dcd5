import sys

from gdp_zero.cli import main

sys.exit(main())
