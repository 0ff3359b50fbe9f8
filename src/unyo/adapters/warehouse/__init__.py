"""Warehouse adapters: the app's `Warehouse` protocol over a transport.

`CsvFolderWarehouse` exchanges CSV files through folders, what most Japanese
warehouse systems accept. May import `unyo.app.warehouse` (the protocol and its
data) and `unyo.flow`; must not import other adapters.
"""

from unyo.adapters.warehouse.csvfolder import CsvFolderWarehouse
from unyo.adapters.warehouse.mapping import neutralise

__all__ = ["CsvFolderWarehouse", "neutralise"]
