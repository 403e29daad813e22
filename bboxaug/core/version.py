"""The installed bboxaug's version: written into every manifest and compared with a Dask cluster's."""

__version__ = "0.1.0"
