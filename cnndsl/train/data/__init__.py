"""Data for training: readers for the formats users have on disk, and the pipeline.

Data specs: ``digits`` (embedded), ``mnist:DIR``, ``cifar10:DIR``, ``folder:DIR``,
``npz:FILE``, ``synthetic:N=..,shape=..,classes=..``. Nothing is ever downloaded.
"""

from .augment import Augment
from .feeder import Batch, Feeder, mix_seed
from .prepare import Prepared, prepare
from .spec import load_source
from .transform import Transform
from .types import DataSource, ImageSet

__all__ = ["Augment", "Batch", "DataSource", "Feeder", "ImageSet", "Prepared", "Transform",
           "load_source", "mix_seed", "prepare"]
