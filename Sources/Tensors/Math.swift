// Scalar libm functions for the kernels' naive references and table setup.

import Foundation

@usableFromInline @inline(__always) func _exp(_ x: Double) -> Double { Foundation.exp(x) }
@usableFromInline @inline(__always) func _log(_ x: Double) -> Double { Foundation.log(x) }
