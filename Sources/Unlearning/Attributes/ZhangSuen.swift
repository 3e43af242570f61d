/// Zhang–Suen thinning (T. Y. Zhang and C. Y. Suen, "A fast parallel algorithm for thinning digital
/// patterns", CACM 27(3), 1984): the skeleton used for stroke `length` and `thickness`.
///
/// Each iteration has two parallel sub-iterations. A foreground pixel P1 with neighbours
///
///     P9 P2 P3
///     P8 P1 P4
///     P7 P6 P5
///
/// is deleted when 2 ≤ B ≤ 6 (B = foreground neighbours), A = 1 (A = 0→1 transitions in the cyclic
/// sequence P2…P9 P2), and in the first sub-iteration P2·P4·P6 = 0 and P4·P6·P8 = 0, in the second
/// P2·P4·P8 = 0 and P2·P6·P8 = 0. All deletions of a sub-iteration are applied together; iterations
/// repeat until nothing changes. Pixels outside the image are background. Known behaviour of the
/// algorithm, kept as is: a 2×2 square is erased completely, and a w-pixel-wide bar loses about
/// (w − 1)/2 pixels of skeleton at each end.
public enum ZhangSuen {
  /// Thins a row-major `height`×`width` mask; returns the skeleton as a mask of the same size.
  public static func thin(_ mask: [Bool], height: Int, width: Int) -> [Bool] {
    precondition(
      height >= 0 && width >= 0 && mask.count == height * width,
      "mask of \(mask.count) for \(height)×\(width)")
    let stride = width + 2
    var padded = [UInt8](repeating: 0, count: (height + 2) * stride)
    var ink = [Int32]()
    for r in 0..<height {
      for c in 0..<width where mask[r * width + c] {
        let i = (r + 1) * stride + c + 1
        padded[i] = 1
        ink.append(Int32(i))
      }
    }
    var deletions = [Int32](repeating: 0, count: ink.count)
    padded.withUnsafeMutableBufferPointer { p in
      ink.withUnsafeMutableBufferPointer { k in
        deletions.withUnsafeMutableBufferPointer { d in
          _ = thin(
            padded: p.baseAddress!, stride: stride, ink: k.baseAddress!, count: k.count,
            deletions: d.baseAddress!)
        }
      }
    }
    var out = [Bool](repeating: false, count: height * width)
    for r in 0..<height {
      for c in 0..<width { out[r * width + c] = padded[(r + 1) * stride + c + 1] != 0 }
    }
    return out
  }

  /// Thins in place a mask stored with a one-pixel zero border (row stride `stride`), whose foreground
  /// pixels are listed (as flat indices into the padded mask) in `ink[0..<count]`. On return the mask
  /// holds the skeleton and `ink` its first `result` entries. `deletions` needs room for `count` indices.
  /// Allocates nothing.
  static func thin(
    padded mask: UnsafeMutablePointer<UInt8>, stride: Int, ink: UnsafeMutablePointer<Int32>,
    count: Int, deletions: UnsafeMutablePointer<Int32>
  ) -> Int {
    var count = count
    let n = -stride, s = stride
    table.withUnsafeBufferPointer { lut in
      var changed = true
      while changed {
        changed = false
        for step in 0..<2 {
          let bit: UInt8 = step == 0 ? 1 : 2
          var deleted = 0
          for k in 0..<count {
            let i = Int(ink[k])
            // Bits 0…7 = P2 (north) clockwise to P9 (north-west).
            let code =
              Int(mask[i + n]) | Int(mask[i + n + 1]) << 1 | Int(mask[i + 1]) << 2 | Int(mask[i + s + 1]) << 3
              | Int(mask[i + s]) << 4 | Int(mask[i + s - 1]) << 5 | Int(mask[i - 1]) << 6
              | Int(mask[i + n - 1]) << 7
            if lut[code] & bit != 0 {
              deletions[deleted] = Int32(i)
              deleted += 1
            }
          }
          if deleted == 0 { continue }
          changed = true
          for k in 0..<deleted { mask[Int(deletions[k])] = 0 }
          var kept = 0
          for k in 0..<count where mask[Int(ink[k])] != 0 {
            ink[kept] = ink[k]
            kept += 1
          }
          count = kept
        }
      }
    }
    return count
  }

  /// For each 8-neighbour code: bit 0 set when P1 is deleted in the first sub-iteration, bit 1 in the second.
  static let table: [UInt8] = (0..<256).map { code in
    let p = (0..<8).map { (code >> $0) & 1 }  // p[0] = P2 … p[7] = P9
    let b = p.reduce(0, +)
    let a = (0..<8).filter { p[$0] == 0 && p[($0 + 1) % 8] == 1 }.count
    guard (2...6).contains(b) && a == 1 else { return 0 }
    let (p2, p4, p6, p8) = (p[0], p[2], p[4], p[6])
    var entry: UInt8 = 0
    if p2 * p4 * p6 == 0 && p4 * p6 * p8 == 0 { entry |= 1 }
    if p2 * p4 * p8 == 0 && p2 * p6 * p8 == 0 { entry |= 2 }
    return entry
  }
}
