// xxHash's XXH3-128 (Debian: libxxhash-dev). Imported only by Sources/ShardStore/Hashing.swift.
#include <xxhash.h>
