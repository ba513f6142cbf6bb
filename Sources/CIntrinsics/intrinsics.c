// CIntrinsics is header-only (static inline functions); this file gives the C target a source.
#include "CIntrinsics.h"
