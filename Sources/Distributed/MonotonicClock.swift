#if canImport(Glibc)
  import Glibc
#elseif canImport(Darwin)
  import Darwin
#endif

/// Nanoseconds on the monotonic clock (no allocation, safe from any thread).
@inline(__always)
func monotonicNanoseconds() -> UInt64 {
  var time = timespec()
  clock_gettime(CLOCK_MONOTONIC, &time)
  return UInt64(time.tv_sec) * 1_000_000_000 + UInt64(time.tv_nsec)
}

/// Seconds between two `monotonicNanoseconds()` readings.
@inline(__always)
func seconds(from start: UInt64, to end: UInt64) -> Double {
  end >= start ? Double(end - start) * 1e-9 : 0
}
