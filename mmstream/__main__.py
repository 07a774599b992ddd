import sys

from mmstream.cli import main

sys.exit(main())
