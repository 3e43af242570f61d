import NN
import Tensor
import Testing

/// Copies a file group's tensors into a network, recording an issue for differing keys or shapes.
func loadStateDict(_ tensors: [String: Tensor], into network: Layer, _ label: String) {
  let state = network.stateDict()
  #expect(tensors.keys.sorted() == state.keys.sorted(), "\(label): state_dict keys vs file")
  for (key, source) in tensors {
    guard let destination = state[key] else { continue }
    guard source.shape == destination.shape else {
      Issue.record("\(label): \(key) has shape \(destination.shape), file \(source.shape)")
      continue
    }
    destination.pointer.update(from: source.pointer, count: source.count)
  }
}
