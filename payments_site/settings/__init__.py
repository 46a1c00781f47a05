"""Settings modules: ``base`` is shared; pick ``development``, ``test`` or ``production``."""
