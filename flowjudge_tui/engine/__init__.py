"""Engines: llama.cpp in-process (``llama``, with the score position in ``structure`` and the
chat wrapper in ``chat``), one model in memory at a time (``loader``), and the memory plan
(``fit``, ``plans``, ``hardware``). The only package that imports llama_cpp."""
