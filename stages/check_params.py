"""DVC stage `check_params`: validate the whole params.yaml whenever any of it changes.

Every other stage tracks only its own sections, so a misspelt section (`evalaute:`) or a key
added by `dvc exp run -S` under a wrong name would change nothing DVC watches: `dvc repro` would
report everything up to date and the setting would silently never apply. This stage tracks the
whole file, so such a file stops the pipeline with the usual one line per bad key.
"""

from sketch2face.config import load_params
from sketch2face.stage import reported_errors

with reported_errors("check_params"):
    load_params()
    print("check_params: params.yaml is valid")
