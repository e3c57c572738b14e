import sys

from meshdemo.cli import main

sys.exit(main())
