"""``python -m hkid_ocr`` is the ``hkid-ocr`` command."""

from .cli import main

if __name__ == "__main__":
    raise SystemExit(main())
