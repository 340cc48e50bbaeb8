"""Judge models: the catalog of known GGUF files (``catalog``), the files on this machine
(``installed``), their sha256 verification (``verified``), the GGUF header reader
(``gguf_file``) and the download from the hub (``download``, the only module here that uses
the network)."""
