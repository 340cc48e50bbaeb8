"""What runs say: the statistics (``statistics``), agreement with people and between runs
(``agreement``), and the exports (``export``: JSONL, CSV, and the HTML report in ``html``)."""
