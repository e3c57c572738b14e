"""meshdemo: run the bash blocks of an MkDocs guide in one shell, capture what they print,
and show it back in the pages.

The package is a plain library; the CLI (`meshdemo.cli`), the pytest plugin
(`meshdemo.pytest_plugin`) and the MkDocs hook (`hooks/`) are thin layers over it.
"""

__version__ = "0.1.0"
