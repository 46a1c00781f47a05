"""``python -m tests.support.moto_kms_server -H 127.0.0.1 -p PORT``: moto's server with the
KMS fixes of ``tests.support.kms.patch_moto_kms`` applied first (see that module)."""

from __future__ import annotations

from moto.server import main

from tests.support.kms import patch_moto_kms

if __name__ == "__main__":
    patch_moto_kms()
    main()
