"""bboxaug: prepare object-detection datasets offline.

Read COCO, Pascal VOC, YOLO and Labelme into one model (`Dataset`), convert between them without loss, and (in
later modules) augment, balance, tile and inspect them.
"""

__version__ = "0.1.0"

from .convert import convert, load, save  # noqa: E402
from .dataset import Boxes, ClassInfo, Dataset, ImageRecord  # noqa: E402
from .errors import BboxaugError  # noqa: E402

__all__ = ["BboxaugError", "Boxes", "ClassInfo", "Dataset", "ImageRecord", "__version__", "convert", "load", "save"]
