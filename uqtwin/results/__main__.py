"""``python -m uqtwin.results [PATH]``: regenerate the results schema from the registry."""

import sys

from uqtwin.results.schema_generator import write_schema

print(write_schema(sys.argv[1] if len(sys.argv) > 1 else None))
