// LZ4 block compression (Debian: liblz4-dev). Imported only by Sources/ShardStore/LZ4.swift.
#include <lz4.h>
