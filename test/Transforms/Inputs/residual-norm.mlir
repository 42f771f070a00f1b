// Kernel-level IR for fuse-kernels' residual_add + rms_norm cases that an
// imported model does not have: a norm under another hidden mask than its
// residual's (not fused; under the same one it is), a residual read between it and its norm (fused:
// the weight read moves up), a norm of something else than a residual.
module {
  func.func @other_mask(%x: tensor<?x?x8xf32>, %u: tensor<?x?x8xf32>, %a: tensor<8xf32>, %b: tensor<8xf32>) -> (tensor<?x?x8xf32>, tensor<?x?x8xf32>) {
    %y = shear.kernel "residual_add"(%x, %u, %a) {masks = ["hidden"]} : (tensor<?x?x8xf32>, tensor<?x?x8xf32>, tensor<8xf32>) -> tensor<?x?x8xf32>
    %w = shear.weight "w" from "w.safetensors" : tensor<8xf32>
    %n = shear.kernel "rms_norm"(%y, %w, %b) {eps = 1.0e-05 : f64, masks = ["hidden"]} : (tensor<?x?x8xf32>, tensor<8xf32>, tensor<8xf32>) -> tensor<?x?x8xf32>
    return %y, %n : tensor<?x?x8xf32>, tensor<?x?x8xf32>
  }
  func.func @same_mask(%x: tensor<?x?x8xf32>, %u: tensor<?x?x8xf32>, %a: tensor<8xf32>) -> (tensor<?x?x8xf32>, tensor<?x?x8xf32>) {
    %y = shear.kernel "residual_add"(%x, %u, %a) {masks = ["hidden"]} : (tensor<?x?x8xf32>, tensor<?x?x8xf32>, tensor<8xf32>) -> tensor<?x?x8xf32>
    %w = shear.weight "w" from "w.safetensors" : tensor<8xf32>
    %n = shear.kernel "rms_norm"(%y, %w, %a) {eps = 1.0e-05 : f64, masks = ["hidden"]} : (tensor<?x?x8xf32>, tensor<8xf32>, tensor<8xf32>) -> tensor<?x?x8xf32>
    return %y, %n : tensor<?x?x8xf32>, tensor<?x?x8xf32>
  }
  func.func @read_between(%x: tensor<?x?x8xf32>, %u: tensor<?x?x8xf32>) -> (tensor<f32>, tensor<?x?x8xf32>) {
    %y = shear.kernel "residual_add"(%x, %u) : (tensor<?x?x8xf32>, tensor<?x?x8xf32>) -> tensor<?x?x8xf32>
    %c = shear.kernel "cosine_sum"(%x, %y) : (tensor<?x?x8xf32>, tensor<?x?x8xf32>) -> tensor<f32>
    %w = shear.weight "w" from "w.safetensors" : tensor<8xf32>
    %n = shear.kernel "rms_norm"(%y, %w) {eps = 1.0e-05 : f64} : (tensor<?x?x8xf32>, tensor<8xf32>) -> tensor<?x?x8xf32>
    return %c, %n : tensor<f32>, tensor<?x?x8xf32>
  }
  func.func @not_a_residual(%x: tensor<?x?x8xf32>) -> tensor<?x?x8xf32> {
    %w = shear.weight "w" from "w.safetensors" : tensor<8xf32>
    %n = shear.kernel "rms_norm"(%x, %w) {eps = 1.0e-05 : f64} : (tensor<?x?x8xf32>, tensor<8xf32>) -> tensor<?x?x8xf32>
    return %n : tensor<?x?x8xf32>
  }
}
