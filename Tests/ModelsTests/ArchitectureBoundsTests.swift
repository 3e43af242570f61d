import Models
import Testing

/// Absurd sizes are errors naming the field, not allocator aborts.
@Test(arguments: [
  #"{"family":"dcgan","latent_dim":1000000000,"channels":1,"base_size":7,"widths":[8]}"#,
  #"{"family":"dcgan","latent_dim":100,"channels":1,"base_size":7,"widths":[100000000]}"#,
  #"{"family":"dcgan","latent_dim":100,"channels":1,"base_size":64,"widths":[8,8,8,8,8,8]}"#,
  #"{"family":"classifier","channels":1,"image_size":28,"widths":[8],"hidden":100000000,"classes":10}"#,
])
func absurdArchitecturesAreRejected(_ json: String) {
  #expect { try Architecture.parse(json) } throws: { "\($0)".hasPrefix("architecture: ") }
}
