"""``python -m quantize``: the same as the ``quantize`` command."""

from .cli import main

if __name__ == "__main__":
    main()
