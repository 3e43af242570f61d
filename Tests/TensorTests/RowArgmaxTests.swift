import Tensor
import Testing

@Suite struct RowArgmaxTests {
  @Test func picksEachRowsFirstLargestElement() {
    let t = Tensor(
      shape: [4, 3],
      values: [
        0.1, 0.7, 0.2,  // clear winner
        0.5, 0.5, 0.1,  // tie: the first
        -3, -1, -2,  // all negative
        1, .nan, 2,  // a later NaN never wins
      ])
    #expect(t.rowArgmax() == [1, 0, 1, 2])
    #expect(Tensor(shape: [1, 3], values: [.nan, 2, 1]).rowArgmax() == [0], "nothing is greater than a leading NaN")
    #expect(Tensor(shape: [0, 5]).rowArgmax().isEmpty)
  }
}
