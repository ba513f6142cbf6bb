// OpenBLAS, loaded at run time. Imported only by Sources/Tensors/BLAS.swift.
//
// OpenBLAS built with DYNAMIC_ARCH (Debian's libopenblas0) chooses its kernel table once, in its
// load-time constructor, from $OPENBLAS_CORETYPE or else from the CPU model number; a model it
// does not know gets the generic SSE3 kernel (`Prescott`, ~5x slower). Linking it the usual way
// runs that constructor before main, too early to correct it. So bridge links no OpenBLAS: it
// opens the library with dlopen at first use, reads the kernel it chose, and when that kernel is
// weaker than the CPU's features allow it closes the library (checking that it really unloaded)
// and opens it again with OPENBLAS_CORETYPE set for the duration of that call only. This works
// the same in the `bridge` binary, the test runners and any program using the library, with no
// re-exec and no change to the environment children see.
//
// The prototypes below are OpenBLAS's CBLAS ABI (LP64: 32-bit integers), declared here so that
// no header of a particular distribution's layout is needed at build time.
#ifndef BRIDGE_COPENBLAS_H
#define BRIDGE_COPENBLAS_H

#include <stddef.h>

enum { BRIDGE_CBLAS_ROW_MAJOR = 101, BRIDGE_CBLAS_NO_TRANS = 111, BRIDGE_CBLAS_TRANS = 112 };

/// Opens OpenBLAS (the library named by $BRIDGE_OPENBLAS_LIBRARY, else libopenblas.so.0,
/// libopenblas.so, libopenblas.dylib). With `coretype` non-NULL, OPENBLAS_CORETYPE is set to it
/// while the library loads and restored after. Returns 0, or -1 with a message in `error`.
int bridge_blas_open(const char *coretype, char *error, size_t error_size);

/// Closes the library opened by bridge_blas_open. Returns 1 when it is really unloaded (so that
/// a new open runs its constructor again), 0 when the dynamic loader kept it.
int bridge_blas_close(void);

/// The path or name the library was opened from ("" before an open).
const char *bridge_blas_library(void);

void bridge_cblas_sgemm(int order, int trans_a, int trans_b, int m, int n, int k, float alpha,
                        const float *a, int lda, const float *b, int ldb, float beta, float *c, int ldc);
void bridge_openblas_set_num_threads(int threads);
int bridge_openblas_get_num_threads(void);
/// OpenBLAS's names, or "" when the library lacks the function.
const char *bridge_openblas_get_corename(void);
const char *bridge_openblas_get_config(void);

#endif
