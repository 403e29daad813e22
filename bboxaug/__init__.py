"""bboxaug: prepare object-detection datasets offline.

Read COCO, Pascal VOC, YOLO and Labelme into one model (`Dataset`), convert between them without loss
(`convert`, `load`, `save`), and write augmented copies whose boxes follow the pixels (`augment`).
"""

__version__ = "0.1.0"

from . import augment  # noqa: E402  (callable: bboxaug.augment(src, dst, policy=..., copies=...))
from .convert import convert, load, save  # noqa: E402
from .dataset import Boxes, ClassInfo, Dataset, ImageRecord  # noqa: E402
from .errors import BboxaugError  # noqa: E402

__all__ = ["BboxaugError", "Boxes", "ClassInfo", "Dataset", "ImageRecord", "__version__", "augment", "convert", "load",
           "save"]
