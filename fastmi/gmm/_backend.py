"""Array namespaces for the portable (NumPy / CuPy) implementation of the bootstrap loop."""
import os

import numpy as np

BACKENDS = ("auto", "numba", "numpy", "cupy")


def get_namespace(backend):
    """The array module for ``backend`` ('numpy' or 'cupy'); CuPy is imported only here."""
    if backend == "numpy":
        return np
    if backend == "cupy":
        if os.environ.get("FASTMI_DISABLE_CUPY", "").lower() in {"1", "true", "yes"}:
            raise ImportError("backend='cupy' was requested but FASTMI_DISABLE_CUPY is set")
        try:
            import cupy
        except ImportError as exc:
            raise ImportError("backend='cupy' needs CuPy and a CUDA GPU: install the 'gpu' extra "
                              "(pip install 'fastmi[gpu]', or the cupy-cudaXXx wheel matching your CUDA) "
                              f"[{exc}]") from None
        try:
            cupy.cuda.runtime.getDeviceCount()
        except Exception as exc:  # no driver / no device
            raise ImportError(f"backend='cupy' found CuPy but no usable CUDA device: {exc}") from None
        return cupy
    raise ValueError(f"no array namespace for backend {backend!r}")

