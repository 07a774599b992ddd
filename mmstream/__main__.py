import sys

from mmstream.commands.cli import main

sys.exit(main())
