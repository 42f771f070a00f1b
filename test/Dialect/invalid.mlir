// One case per verifier rule of the shear ops; each diagnostic names the
// operand, the shape it must have and the shape it has.
// RUN: shear-opt %s -split-input-file -verify-diagnostics

func.func @case0() {
  // expected-error @+1 {{tensor name must not be empty}}
  %w = shear.weight "" from "m.safetensors" : tensor<2xf32>
  return
}

// -----

func.func @case1() {
  // expected-error @+1 {{file must not be empty}}
  %w = shear.weight "w" from "" : tensor<2xf32>
  return
}

// -----

func.func @case2(%la: tensor<4xf32>) {
  // expected-error @+1 {{unknown mask family 'neuron'}}
  %z = shear.gate %la {family = "neuron", target_size = 1 : i64} : tensor<4xf32> -> tensor<4xf32>
  return
}

// -----

func.func @case3(%la: tensor<4xf32>) {
  // expected-error @+1 {{operand 'log_alpha' of the 'head' family must have rank 2, got [4]}}
  %z = shear.gate %la {family = "head", target_size = 1 : i64} : tensor<4xf32> -> tensor<4xf32>
  return
}

// -----

func.func @case4(%la: tensor<4xf32>) {
  // expected-error @+1 {{result must have the type of 'log_alpha'}}
  %z = shear.gate %la {family = "layer", target_size = 1 : i64} : tensor<4xf32> -> tensor<5xf32>
  return
}

// -----

func.func @case5(%la: tensor<4xf32>) {
  // expected-error @+1 {{target_size must be in [1, 4] (the size of a row), got 5}}
  %z = shear.gate %la {family = "hidden", target_size = 5 : i64} : tensor<4xf32> -> tensor<4xf32>
  return
}

// -----

func.func @case6(%la: tensor<4xf32>) {
  // expected-error @+1 {{target_size must be in [1, 4] (the size of a row), got 0}}
  %z = shear.gate %la {family = "hidden", target_size = 0 : i64} : tensor<4xf32> -> tensor<4xf32>
  return
}

// -----

func.func @case7(%m: tensor<2x2x2xf32>) {
  // expected-error @+1 {{operand 'mask' must have rank 1 [layers] or 2 [layers, n], got [2, 2, 2]}}
  %r = shear.mask_row %m[0] : tensor<2x2x2xf32> -> tensor<2x2xf32>
  return
}

// -----

func.func @case8(%m: tensor<2x4xf32>) {
  // expected-error @+1 {{index 2 is out of range for 2 layers}}
  %r = shear.mask_row %m[2] : tensor<2x4xf32> -> tensor<4xf32>
  return
}

// -----

func.func @case9(%m: tensor<2x4xf32>) {
  // expected-error @+1 {{result must have shape [4] (one row), got [3]}}
  %r = shear.mask_row %m[1] : tensor<2x4xf32> -> tensor<3xf32>
  return
}

// -----

func.func @case10(%m: tensor<2xf32>) {
  // expected-error @+1 {{result must have shape [] (a scalar), got [1]}}
  %r = shear.mask_row %m[1] : tensor<2xf32> -> tensor<1xf32>
  return
}

// -----

func.func @case11(%t: tensor<80xf32>, %ids: tensor<?x?xi64>) {
  // expected-error @+1 {{operand 'table' must have rank 2 [vocab, hidden], got [80]}}
  %e = shear.embed %t, %ids : (tensor<80xf32>, tensor<?x?xi64>) -> tensor<?x?x8xf32>
  return
}

// -----

func.func @case12(%t: tensor<10x8xf32>, %ids: tensor<?xi64>) {
  // expected-error @+1 {{operand 'ids' must have rank 2 [batch, seq], got [?]}}
  %e = shear.embed %t, %ids : (tensor<10x8xf32>, tensor<?xi64>) -> tensor<?x?x8xf32>
  return
}

// -----

func.func @case13(%t: tensor<10x8xf32>, %ids: tensor<?x?xi64>, %z: tensor<7xf32>) {
  // expected-error @+1 {{operand 'hidden_mask' must have shape [8] (hidden), got [7]}}
  %e = shear.embed %t, %ids hidden_mask(%z) : (tensor<10x8xf32>, tensor<?x?xi64>, tensor<7xf32>) -> tensor<?x?x8xf32>
  return
}

// -----

func.func @case14(%t: tensor<10x8xf32>, %ids: tensor<2x3xi64>) {
  // expected-error @+1 {{result must have shape [2, 3, 8] (batch, seq, hidden), got [2, 4, 8]}}
  %e = shear.embed %t, %ids : (tensor<10x8xf32>, tensor<2x3xi64>) -> tensor<2x4x8xf32>
  return
}

// -----

func.func @case15(%v: tensor<4x8xf32>, %w: tensor<8xf32>) {
  // expected-error @+1 {{operand 'input' must be an activation of rank 3 [batch, seq, features], got [4, 8]}}
  %y = shear.rms_norm %v, %w {eps = 1.0e-5 : f64} : (tensor<4x8xf32>, tensor<8xf32>) -> tensor<4x8xf32>
  return
}

// -----

func.func @case16(%x: tensor<?x?x8xf32>, %w: tensor<9xf32>) {
  // expected-error @+1 {{operand 'weight' must have shape [8] (hidden), got [9]}}
  %y = shear.rms_norm %x, %w {eps = 1.0e-5 : f64} : (tensor<?x?x8xf32>, tensor<9xf32>) -> tensor<?x?x8xf32>
  return
}

// -----

func.func @case17(%x: tensor<?x?x8xf32>, %w: tensor<8xf32>, %z: tensor<4xf32>) {
  // expected-error @+1 {{operand 'hidden_mask' must have shape [8] (hidden), got [4]}}
  %y = shear.rms_norm %x, %w hidden_mask(%z) {eps = 1.0e-5 : f64} : (tensor<?x?x8xf32>, tensor<8xf32>, tensor<4xf32>) -> tensor<?x?x8xf32>
  return
}

// -----

func.func @case18(%x: tensor<?x?x8xf32>, %w: tensor<8xf32>) {
  // expected-error @+1 {{attribute 'eps' must be positive, got 0}}
  %y = shear.rms_norm %x, %w {eps = 0.0 : f64} : (tensor<?x?x8xf32>, tensor<8xf32>) -> tensor<?x?x8xf32>
  return
}

// -----

func.func @case19(%x: tensor<?x?x8xf32>, %w: tensor<8xf32>) {
  // expected-error @+1 {{result must have shape [?, ?, 8] (the input's shape), got [?, ?, 9]}}
  %y = shear.rms_norm %x, %w {eps = 1.0e-5 : f64} : (tensor<?x?x8xf32>, tensor<8xf32>) -> tensor<?x?x9xf32>
  return
}

// -----

func.func @case20(%x: tensor<?x?x8xf32>, %q: tensor<8x8xf32>, %k: tensor<4x8xf32>, %v: tensor<4x8xf32>, %o: tensor<8x8xf32>, %y: tensor<8xf32>) {
  // expected-error @+1 {{operand 'input' must be an activation of rank 3}}
  %r = shear.attention %y, %q, %k, %v, %o  {num_heads = 4 : i64, num_kv_heads = 2 : i64, head_dim = 2 : i64, rope_theta = 1.0e4 : f64} : (tensor<8xf32>, tensor<8x8xf32>, tensor<4x8xf32>, tensor<4x8xf32>, tensor<8x8xf32>) -> tensor<?x?x8xf32>
  return
}

// -----

func.func @case21(%x: tensor<?x?x8xf32>, %q: tensor<8x8xf32>, %k: tensor<4x8xf32>, %v: tensor<4x8xf32>, %o: tensor<8x8xf32>) {
  // expected-error @+1 {{attribute 'num_heads' must be positive, got 0}}
  %r = shear.attention %x, %q, %k, %v, %o  {num_heads = 0 : i64, num_kv_heads = 2 : i64, head_dim = 2 : i64, rope_theta = 1.0e4 : f64} : (tensor<?x?x8xf32>, tensor<8x8xf32>, tensor<4x8xf32>, tensor<4x8xf32>, tensor<8x8xf32>) -> tensor<?x?x8xf32>
  return
}

// -----

func.func @case22(%x: tensor<?x?x8xf32>, %q: tensor<8x8xf32>, %k: tensor<4x8xf32>, %v: tensor<4x8xf32>, %o: tensor<8x8xf32>) {
  // expected-error @+1 {{num_heads (4) must be a multiple of num_kv_heads (3)}}
  %r = shear.attention %x, %q, %k, %v, %o  {num_heads = 4 : i64, num_kv_heads = 3 : i64, head_dim = 2 : i64, rope_theta = 1.0e4 : f64} : (tensor<?x?x8xf32>, tensor<8x8xf32>, tensor<4x8xf32>, tensor<4x8xf32>, tensor<8x8xf32>) -> tensor<?x?x8xf32>
  return
}

// -----

func.func @case23(%x: tensor<?x?x8xf32>, %q: tensor<8x8xf32>, %k: tensor<4x8xf32>, %v: tensor<4x8xf32>, %o: tensor<8x8xf32>) {
  // expected-error @+1 {{attribute 'rope_theta' must be positive}}
  %r = shear.attention %x, %q, %k, %v, %o  {num_heads = 4 : i64, num_kv_heads = 2 : i64, head_dim = 2 : i64, rope_theta = -1.0 : f64} : (tensor<?x?x8xf32>, tensor<8x8xf32>, tensor<4x8xf32>, tensor<4x8xf32>, tensor<8x8xf32>) -> tensor<?x?x8xf32>
  return
}

// -----

func.func @case24(%x: tensor<?x?x8xf32>, %q: tensor<8x8xf32>, %k: tensor<4x8xf32>, %v: tensor<4x8xf32>, %o: tensor<8x8xf32>) {
  // expected-error @+1 {{rope_scaling must have a string 'rope_type'}}
  %r = shear.attention %x, %q, %k, %v, %o  {num_heads = 4 : i64, num_kv_heads = 2 : i64, head_dim = 2 : i64, rope_theta = 1.0e4 : f64, rope_scaling = {factor = 2.0 : f64}} : (tensor<?x?x8xf32>, tensor<8x8xf32>, tensor<4x8xf32>, tensor<4x8xf32>, tensor<8x8xf32>) -> tensor<?x?x8xf32>
  return
}

// -----

func.func @case25(%x: tensor<?x?x8xf32>, %q: tensor<8x8xf32>, %k: tensor<4x8xf32>, %v: tensor<4x8xf32>, %o: tensor<8x8xf32>) {
  // expected-error @+1 {{unknown rope_scaling type 'yarn'}}
  %r = shear.attention %x, %q, %k, %v, %o  {num_heads = 4 : i64, num_kv_heads = 2 : i64, head_dim = 2 : i64, rope_theta = 1.0e4 : f64, rope_scaling = {rope_type = "yarn", factor = 2.0 : f64}} : (tensor<?x?x8xf32>, tensor<8x8xf32>, tensor<4x8xf32>, tensor<4x8xf32>, tensor<8x8xf32>) -> tensor<?x?x8xf32>
  return
}

// -----

func.func @case26(%x: tensor<?x?x8xf32>, %q: tensor<8x8xf32>, %k: tensor<4x8xf32>, %v: tensor<4x8xf32>, %o: tensor<8x8xf32>) {
  // expected-error @+1 {{rope_scaling of type 'linear' needs a positive float 'factor'}}
  %r = shear.attention %x, %q, %k, %v, %o  {num_heads = 4 : i64, num_kv_heads = 2 : i64, head_dim = 2 : i64, rope_theta = 1.0e4 : f64, rope_scaling = {rope_type = "linear"}} : (tensor<?x?x8xf32>, tensor<8x8xf32>, tensor<4x8xf32>, tensor<4x8xf32>, tensor<8x8xf32>) -> tensor<?x?x8xf32>
  return
}

// -----

func.func @case27(%x: tensor<?x?x8xf32>, %q: tensor<8x8xf32>, %k: tensor<4x8xf32>, %v: tensor<4x8xf32>, %o: tensor<8x8xf32>) {
  // expected-error @+1 {{needs a positive integer 'original_max_position_embeddings'}}
  %r = shear.attention %x, %q, %k, %v, %o  {num_heads = 4 : i64, num_kv_heads = 2 : i64, head_dim = 2 : i64, rope_theta = 1.0e4 : f64, rope_scaling = {rope_type = "llama3", factor = 8.0 : f64, low_freq_factor = 1.0 : f64, high_freq_factor = 4.0 : f64}} : (tensor<?x?x8xf32>, tensor<8x8xf32>, tensor<4x8xf32>, tensor<4x8xf32>, tensor<8x8xf32>) -> tensor<?x?x8xf32>
  return
}

// -----

func.func @case28(%x: tensor<?x?x8xf32>, %q: tensor<8x8xf32>, %k: tensor<4x8xf32>, %v: tensor<4x8xf32>, %o: tensor<8x8xf32>) {
  // expected-error @+1 {{high_freq_factor must exceed low_freq_factor}}
  %r = shear.attention %x, %q, %k, %v, %o  {num_heads = 4 : i64, num_kv_heads = 2 : i64, head_dim = 2 : i64, rope_theta = 1.0e4 : f64, rope_scaling = {rope_type = "llama3", factor = 8.0 : f64, low_freq_factor = 4.0 : f64, high_freq_factor = 1.0 : f64, original_max_position_embeddings = 8192 : i64}} : (tensor<?x?x8xf32>, tensor<8x8xf32>, tensor<4x8xf32>, tensor<4x8xf32>, tensor<8x8xf32>) -> tensor<?x?x8xf32>
  return
}

// -----

func.func @case29(%x: tensor<?x?x8xf32>, %q: tensor<6x8xf32>, %k: tensor<4x8xf32>, %v: tensor<4x8xf32>, %o: tensor<8x8xf32>) {
  // expected-error @+1 {{operand 'wq' must have shape [8, 8] (num_heads*head_dim, hidden), got [6, 8]}}
  %r = shear.attention %x, %q, %k, %v, %o  {num_heads = 4 : i64, num_kv_heads = 2 : i64, head_dim = 2 : i64, rope_theta = 1.0e4 : f64} : (tensor<?x?x8xf32>, tensor<6x8xf32>, tensor<4x8xf32>, tensor<4x8xf32>, tensor<8x8xf32>) -> tensor<?x?x8xf32>
  return
}

// -----

func.func @case30(%x: tensor<?x?x8xf32>, %q: tensor<8x8xf32>, %k: tensor<8x8xf32>, %v: tensor<4x8xf32>, %o: tensor<8x8xf32>) {
  // expected-error @+1 {{operand 'wk' must have shape [4, 8] (num_kv_heads*head_dim, hidden), got [8, 8]}}
  %r = shear.attention %x, %q, %k, %v, %o  {num_heads = 4 : i64, num_kv_heads = 2 : i64, head_dim = 2 : i64, rope_theta = 1.0e4 : f64} : (tensor<?x?x8xf32>, tensor<8x8xf32>, tensor<8x8xf32>, tensor<4x8xf32>, tensor<8x8xf32>) -> tensor<?x?x8xf32>
  return
}

// -----

func.func @case31(%x: tensor<?x?x8xf32>, %q: tensor<8x8xf32>, %k: tensor<4x8xf32>, %v: tensor<4x7xf32>, %o: tensor<8x8xf32>) {
  // expected-error @+1 {{operand 'wv' must have shape [4, 8] (num_kv_heads*head_dim, hidden), got [4, 7]}}
  %r = shear.attention %x, %q, %k, %v, %o  {num_heads = 4 : i64, num_kv_heads = 2 : i64, head_dim = 2 : i64, rope_theta = 1.0e4 : f64} : (tensor<?x?x8xf32>, tensor<8x8xf32>, tensor<4x8xf32>, tensor<4x7xf32>, tensor<8x8xf32>) -> tensor<?x?x8xf32>
  return
}

// -----

func.func @case32(%x: tensor<?x?x8xf32>, %q: tensor<8x8xf32>, %k: tensor<4x8xf32>, %v: tensor<4x8xf32>, %o: tensor<8x4xf32>) {
  // expected-error @+1 {{operand 'wo' must have shape [8, 8] (hidden, num_heads*head_dim), got [8, 4]}}
  %r = shear.attention %x, %q, %k, %v, %o  {num_heads = 4 : i64, num_kv_heads = 2 : i64, head_dim = 2 : i64, rope_theta = 1.0e4 : f64} : (tensor<?x?x8xf32>, tensor<8x8xf32>, tensor<4x8xf32>, tensor<4x8xf32>, tensor<8x4xf32>) -> tensor<?x?x8xf32>
  return
}

// -----

func.func @case33(%x: tensor<?x?x8xf32>, %q: tensor<8x8xf32>, %k: tensor<4x8xf32>, %v: tensor<4x8xf32>, %o: tensor<8x8xf32>, %zh: tensor<2xf32>) {
  // expected-error @+1 {{operand 'head_mask' must have shape [4] (num_heads), got [2]}}
  %r = shear.attention %x, %q, %k, %v, %o head_mask(%zh) {num_heads = 4 : i64, num_kv_heads = 2 : i64, head_dim = 2 : i64, rope_theta = 1.0e4 : f64} : (tensor<?x?x8xf32>, tensor<8x8xf32>, tensor<4x8xf32>, tensor<4x8xf32>, tensor<8x8xf32>, tensor<2xf32>) -> tensor<?x?x8xf32>
  return
}

// -----

func.func @case34(%x: tensor<?x?x8xf32>, %q: tensor<8x8xf32>, %k: tensor<4x8xf32>, %v: tensor<4x8xf32>, %o: tensor<8x8xf32>, %zg: tensor<4xf32>) {
  // expected-error @+1 {{operand 'kv_group_mask' must have shape [2] (num_kv_heads), got [4]}}
  %r = shear.attention %x, %q, %k, %v, %o kv_group_mask(%zg) {num_heads = 4 : i64, num_kv_heads = 2 : i64, head_dim = 2 : i64, rope_theta = 1.0e4 : f64} : (tensor<?x?x8xf32>, tensor<8x8xf32>, tensor<4x8xf32>, tensor<4x8xf32>, tensor<8x8xf32>, tensor<4xf32>) -> tensor<?x?x8xf32>
  return
}

// -----

func.func @case35(%x: tensor<?x?x8xf32>, %q: tensor<8x8xf32>, %k: tensor<4x8xf32>, %v: tensor<4x8xf32>, %o: tensor<8x8xf32>) {
  // expected-error @+1 {{result must have shape [?, ?, 8] (the input's shape), got [?, ?, 4]}}
  %r = shear.attention %x, %q, %k, %v, %o  {num_heads = 4 : i64, num_kv_heads = 2 : i64, head_dim = 2 : i64, rope_theta = 1.0e4 : f64} : (tensor<?x?x8xf32>, tensor<8x8xf32>, tensor<4x8xf32>, tensor<4x8xf32>, tensor<8x8xf32>) -> tensor<?x?x4xf32>
  return
}

// -----

func.func @case36(%x: tensor<?x?x8xf32>, %g: tensor<12x7xf32>, %u: tensor<12x8xf32>, %d: tensor<8x12xf32>) {
  // expected-error @+1 {{operand 'w_gate' must have shape [12, 8] (intermediate, hidden), got [12, 7]}}
  %r = shear.mlp %x, %g, %u, %d  : (tensor<?x?x8xf32>, tensor<12x7xf32>, tensor<12x8xf32>, tensor<8x12xf32>) -> tensor<?x?x8xf32>
  return
}

// -----

func.func @case37(%x: tensor<?x?x8xf32>, %g: tensor<12x8xf32>, %u: tensor<10x8xf32>, %d: tensor<8x12xf32>) {
  // expected-error @+1 {{operand 'w_up' must have shape [12, 8] (intermediate, hidden), got [10, 8]}}
  %r = shear.mlp %x, %g, %u, %d  : (tensor<?x?x8xf32>, tensor<12x8xf32>, tensor<10x8xf32>, tensor<8x12xf32>) -> tensor<?x?x8xf32>
  return
}

// -----

func.func @case38(%x: tensor<?x?x8xf32>, %g: tensor<12x8xf32>, %u: tensor<12x8xf32>, %d: tensor<8x10xf32>) {
  // expected-error @+1 {{operand 'w_down' must have shape [8, 12] (hidden, intermediate), got [8, 10]}}
  %r = shear.mlp %x, %g, %u, %d  : (tensor<?x?x8xf32>, tensor<12x8xf32>, tensor<12x8xf32>, tensor<8x10xf32>) -> tensor<?x?x8xf32>
  return
}

// -----

func.func @case39(%x: tensor<?x?x8xf32>, %g: tensor<12x8xf32>, %u: tensor<12x8xf32>, %d: tensor<8x12xf32>, %z: tensor<8xf32>) {
  // expected-error @+1 {{operand 'intermediate_mask' must have shape [12] (intermediate), got [8]}}
  %r = shear.mlp %x, %g, %u, %d intermediate_mask(%z) : (tensor<?x?x8xf32>, tensor<12x8xf32>, tensor<12x8xf32>, tensor<8x12xf32>, tensor<8xf32>) -> tensor<?x?x8xf32>
  return
}

// -----

func.func @case40(%x: tensor<?x?x8xf32>, %g: tensor<12x8xf32>, %u: tensor<12x8xf32>, %d: tensor<8x12xf32>) {
  // expected-error @+1 {{result must have shape [?, ?, 8] (the input's shape), got [?, ?, 12]}}
  %r = shear.mlp %x, %g, %u, %d  : (tensor<?x?x8xf32>, tensor<12x8xf32>, tensor<12x8xf32>, tensor<8x12xf32>) -> tensor<?x?x12xf32>
  return
}

// -----

func.func @case41(%x: tensor<?x?x8xf32>, %v: tensor<8xf32>) {
  // expected-error @+1 {{operand 'residual' must be an activation of rank 3}}
  %r = shear.residual_add %v, %x : (tensor<8xf32>, tensor<?x?x8xf32>) -> tensor<?x?x8xf32>
  return
}

// -----

func.func @case42(%x: tensor<?x?x8xf32>, %u: tensor<?x?x4xf32>) {
  // expected-error @+1 {{operand 'update' must have shape [?, ?, 8] (the residual's shape), got [?, ?, 4]}}
  %r = shear.residual_add %x, %u : (tensor<?x?x8xf32>, tensor<?x?x4xf32>) -> tensor<?x?x8xf32>
  return
}

// -----

func.func @case43(%x: tensor<?x?x8xf32>, %zl: tensor<1xf32>) {
  // expected-error @+1 {{operand 'layer_mask' must have shape [] (a scalar), got [1]}}
  %r = shear.residual_add %x, %x layer_mask(%zl) : (tensor<?x?x8xf32>, tensor<?x?x8xf32>, tensor<1xf32>) -> tensor<?x?x8xf32>
  return
}

// -----

func.func @case44(%x: tensor<?x?x8xf32>, %zd: tensor<9xf32>) {
  // expected-error @+1 {{operand 'hidden_mask' must have shape [8] (hidden), got [9]}}
  %r = shear.residual_add %x, %x hidden_mask(%zd) : (tensor<?x?x8xf32>, tensor<?x?x8xf32>, tensor<9xf32>) -> tensor<?x?x8xf32>
  return
}

// -----

func.func @case45(%x: tensor<?x?x8xf32>) {
  // expected-error @+1 {{result must have shape [?, ?, 8] (the residual's shape), got [?, ?, 9]}}
  %r = shear.residual_add %x, %x : (tensor<?x?x8xf32>, tensor<?x?x8xf32>) -> tensor<?x?x9xf32>
  return
}

// -----

func.func @case46(%v: tensor<2x8xf32>, %w: tensor<10x8xf32>) {
  // expected-error @+1 {{operand 'input' must be an activation of rank 3}}
  %r = shear.lm_head %v, %w : (tensor<2x8xf32>, tensor<10x8xf32>) -> tensor<2x10xf32>
  return
}

// -----

func.func @case47(%x: tensor<?x?x8xf32>, %w: tensor<10x9xf32>) {
  // expected-error @+1 {{operand 'weight' must have shape [10, 8] (vocab, hidden), got [10, 9]}}
  %r = shear.lm_head %x, %w : (tensor<?x?x8xf32>, tensor<10x9xf32>) -> tensor<?x?x10xf32>
  return
}

// -----

func.func @case48(%x: tensor<?x?x8xf32>, %w: tensor<10x8xf32>) {
  // expected-error @+1 {{is 'tied' but operand 'weight' is not the table of a shear.embed}}
  %r = shear.lm_head %x, %w {tied} : (tensor<?x?x8xf32>, tensor<10x8xf32>) -> tensor<?x?x10xf32>
  return
}

// -----

func.func @case49(%x: tensor<?x?x8xf32>, %w: tensor<10x8xf32>) {
  // expected-error @+1 {{result must have shape [?, ?, 10] (batch, seq, vocab), got [?, ?, 11]}}
  %r = shear.lm_head %x, %w : (tensor<?x?x8xf32>, tensor<10x8xf32>) -> tensor<?x?x11xf32>
  return
}

// -----

func.func @case50(%v: tensor<4x10xf32>, %t: tensor<?x?xi64>) {
  // expected-error @+1 {{operand 'logits' must be an activation of rank 3}}
  %l = shear.cross_entropy %v, %t : (tensor<4x10xf32>, tensor<?x?xi64>) -> tensor<f32>
  return
}

// -----

func.func @case51(%v: tensor<2x3x10xf32>, %t: tensor<2x4xi64>) {
  // expected-error @+1 {{operand 'labels' must have shape [2, 3] (batch, seq), got [2, 4]}}
  %l = shear.cross_entropy %v, %t : (tensor<2x3x10xf32>, tensor<2x4xi64>) -> tensor<f32>
  return
}

// -----

func.func @case52(%v: tensor<2x3x10xf32>, %t: tensor<2x3xi64>) {
  // expected-error @+1 {{result must have shape [] (a scalar), got [1]}}
  %l = shear.cross_entropy %v, %t : (tensor<2x3x10xf32>, tensor<2x3xi64>) -> tensor<1xf32>
  return
}

// -----
// shear.kernel calls are checked against the kernel table: the lowering
// passes cannot emit a call the runtime does not implement.

func.func @kernel_unknown(%x: tensor<4xf32>) {
  // expected-error @+1 {{calls 'softmax', which the kernel table does not declare}}
  %y = shear.kernel "softmax"(%x) : (tensor<4xf32>) -> tensor<4xf32>
  return
}

// -----

func.func @kernel_missing_operand(%x: tensor<?x?x8xf32>) {
  // expected-error @+1 {{'residual_add' takes operand 'u' (operand 2) but has only 1 operands}}
  %y = shear.kernel "residual_add"(%x) : (tensor<?x?x8xf32>) -> tensor<?x?x8xf32>
  return
}

// -----

func.func @kernel_mask_out_of_order(%x: tensor<?x?x8xf32>, %l: tensor<f32>, %h: tensor<8xf32>) {
  // expected-error @+1 {{'residual_add': optional operand 'layer' is listed twice or out of declaration order}}
  %y = shear.kernel "residual_add"(%x, %x, %h, %l) {masks = ["hidden", "layer"]} : (tensor<?x?x8xf32>, tensor<?x?x8xf32>, tensor<8xf32>, tensor<f32>) -> tensor<?x?x8xf32>
  return
}

// -----

func.func @kernel_unknown_mask(%x: tensor<?x?x8xf32>, %h: tensor<8xf32>) {
  // expected-error @+1 {{'residual_add' has no optional operand 'head'}}
  %y = shear.kernel "residual_add"(%x, %x, %h) {masks = ["head"]} : (tensor<?x?x8xf32>, tensor<?x?x8xf32>, tensor<8xf32>) -> tensor<?x?x8xf32>
  return
}

// -----

func.func @kernel_extra_result(%x: tensor<?x?x8xf32>) {
  // expected-error @+1 {{'residual_add' returns 1 results here but has 2}}
  %y:2 = shear.kernel "residual_add"(%x, %x) : (tensor<?x?x8xf32>, tensor<?x?x8xf32>) -> (tensor<?x?x8xf32>, tensor<?x?x8xf32>)
  return
}

// -----

func.func @kernel_float_ids(%t: tensor<10x8xf32>, %ids: tensor<?x?xf32>) {
  // expected-error @+1 {{operand 'ids' must be an integer tensor, got 'tensor<?x?xf32>'}}
  %y = shear.kernel "embed"(%t, %ids) : (tensor<10x8xf32>, tensor<?x?xf32>) -> tensor<?x?x8xf32>
  return
}

// -----

func.func @kernel_missing_attribute(%x: tensor<?x?x8xf32>, %w: tensor<8xf32>) {
  // expected-error @+1 {{'rms_norm' needs attribute 'eps' (float)}}
  %y = shear.kernel "rms_norm"(%x, %w) : (tensor<?x?x8xf32>, tensor<8xf32>) -> tensor<?x?x8xf32>
  return
}

// -----

func.func @kernel_undeclared_attribute(%x: tensor<?x?x8xf32>, %w: tensor<8xf32>) {
  // expected-error @+1 {{'rms_norm' has no attribute 'epsilon'}}
  %y = shear.kernel "rms_norm"(%x, %w) {eps = 1.0e-05 : f64, epsilon = 1.0e-05 : f64} : (tensor<?x?x8xf32>, tensor<8xf32>) -> tensor<?x?x8xf32>
  return
}

// -----

func.func @kernel_attribute_type(%x: tensor<f32>) {
  // expected-error @+1 {{attribute 'index' of 'mask_row' must be int, got "0"}}
  %y = shear.kernel "mask_row"(%x) {index = "0"} : (tensor<f32>) -> tensor<f32>
  return
}
