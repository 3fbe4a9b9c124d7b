"""``python -m hkid_ocr`` is the ``hkid-ocr`` command."""

from .cli import main

raise SystemExit(main())
