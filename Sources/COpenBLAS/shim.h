// OpenBLAS's CBLAS interface (Debian: libopenblas-dev). Imported only by Sources/Tensors/BLAS.swift.
#include <cblas.h>
