"""W2 with pyinfra: files.sync of the media tree (BENCH_W2_MEDIA) to <bench_root>/w2."""

import os

from pyinfra import host
from pyinfra.operations import files

files.sync(
    name="media tree",
    src=os.environ["BENCH_W2_MEDIA"],
    dest=f"{host.data.bench_root}/w2",
)
