// OpenBLAS through dlopen: see include/COpenBLAS.h for why.
#include "COpenBLAS.h"

#include <dlfcn.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

typedef void (*sgemm_fn)(int, int, int, int, int, int, float, const float *, int, const float *, int,
                         float, float *, int);

static void *handle;
static char library[512];
static sgemm_fn sgemm;
static void (*set_num_threads)(int);
static int (*get_num_threads)(void);
static char *(*get_corename)(void);
static char *(*get_config)(void);

static void *open_first(const char *override) {
    static const char *names[] = {"libopenblas.so.0", "libopenblas.so", "libopenblas.0.dylib", "libopenblas.dylib"};
    if (override && *override) {
        snprintf(library, sizeof library, "%s", override);
        return dlopen(override, RTLD_NOW | RTLD_LOCAL);
    }
    for (size_t i = 0; i < sizeof names / sizeof names[0]; i++) {
        void *h = dlopen(names[i], RTLD_NOW | RTLD_LOCAL);
        if (h) {
            snprintf(library, sizeof library, "%s", names[i]);
            return h;
        }
    }
    library[0] = 0;
    return NULL;
}

int bridge_blas_open(const char *coretype, char *error, size_t error_size) {
    if (handle) return 0;
    char *saved = NULL;
    if (coretype) {
        const char *old = getenv("OPENBLAS_CORETYPE");
        if (old) saved = strdup(old);
        setenv("OPENBLAS_CORETYPE", coretype, 1);
    }
    void *h = open_first(getenv("BRIDGE_OPENBLAS_LIBRARY"));
    if (coretype) {
        if (saved) { setenv("OPENBLAS_CORETYPE", saved, 1); free(saved); }
        else unsetenv("OPENBLAS_CORETYPE");
    }
    if (!h) {
        const char *why = dlerror();
        snprintf(error, error_size, "cannot load OpenBLAS (%s); install it (Debian: apt-get install libopenblas0) "
                 "or name the library in $BRIDGE_OPENBLAS_LIBRARY", why ? why : "not found");
        return -1;
    }
    sgemm = (sgemm_fn)dlsym(h, "cblas_sgemm");
    set_num_threads = (void (*)(int))dlsym(h, "openblas_set_num_threads");
    get_num_threads = (int (*)(void))dlsym(h, "openblas_get_num_threads");
    get_corename = (char *(*)(void))dlsym(h, "openblas_get_corename");
    get_config = (char *(*)(void))dlsym(h, "openblas_get_config");
    if (!sgemm || !set_num_threads || !get_num_threads) {
        snprintf(error, error_size, "%s is not OpenBLAS (no cblas_sgemm / openblas_set_num_threads)", library);
        dlclose(h);
        return -1;
    }
    handle = h;
    return 0;
}

int bridge_blas_close(void) {
    if (!handle) return 1;
    dlclose(handle);
    handle = NULL;
    sgemm = NULL;
    void *still = dlopen(library, RTLD_NOW | RTLD_NOLOAD);
    if (still) { dlclose(still); return 0; }
    return 1;
}

const char *bridge_blas_library(void) { return library; }

void bridge_cblas_sgemm(int order, int trans_a, int trans_b, int m, int n, int k, float alpha,
                        const float *a, int lda, const float *b, int ldb, float beta, float *c, int ldc) {
    sgemm(order, trans_a, trans_b, m, n, k, alpha, a, lda, b, ldb, beta, c, ldc);
}

void bridge_openblas_set_num_threads(int threads) { set_num_threads(threads); }
int bridge_openblas_get_num_threads(void) { return get_num_threads(); }
const char *bridge_openblas_get_corename(void) { return get_corename ? get_corename() : ""; }
const char *bridge_openblas_get_config(void) { return get_config ? get_config() : ""; }
