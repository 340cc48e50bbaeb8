"""Judging: the rubric and the item (``rubric``), the exact Flow-Judge prompt (``prompt``), the
interface a backend implements (``backend``), and the verdict (``verdict``), put together by
``judge``. Pure: no model, no database, no network."""
