//===- Passes.td - shear's passes --------------------------*- tablegen -*-===//
#ifndef SHEAR_TRANSFORMS_PASSES_TD
#define SHEAR_TRANSFORMS_PASSES_TD

include "mlir/Pass/PassBase.td"

def InsertMasks : Pass<"insert-masks", "mlir::ModuleOp"> {
  let summary = "add hard-concrete gates and mask operands for a target shape";
  let description = [{
    Turns a dense model into a masked one that can be pruned to `target-shape`.
    Adds gate parameters (log_alpha, float32, initialised N(5, 0.01) as in
    METHOD.md §2) for the families layer [L], head [L, H], intermediate [L, M],
    hidden [D] and, for grouped-query sources, kv_group [L, G]; a `shear.gate`
    op per family; and the mask operands of every embed, rms_norm, attention,
    mlp and residual_add. The gate parameters are written, named
    `shear.gate.<family>`, to `<output stem>.gates.safetensors` beside the
    output module. The source and target shapes are recorded on the module as
    `shear.source_shape` and `shear.target_shape`.

    `target-shape` is a preset (`2.7b`, `1.3b`, `370m`, and for tests `tiny`
    = 2 layers, 2 heads, hidden 32, intermediate 48 and `tiny-gqa` = the
    same with 1 kv head) or `layers=L,heads=H,kv-heads=G,hidden=D,
    intermediate=M` (kv-heads may be omitted for MHA sources). A target larger
    than the source in any dimension, a hidden size other than heads × head_dim,
    heads that are not a multiple of kv-heads, or zero sizes are errors.
  }];
  let options = [
    Option<"targetShape", "target-shape", "std::string", /*default=*/"\"\"",
           "preset name or layers=L,heads=H,kv-heads=G,hidden=D,intermediate=M">,
    Option<"seed", "seed", "uint64_t", /*default=*/"1",
           "seed of the gate-parameter initialisation">,
  ];
}

def FinalizeMasks : Pass<"finalize-masks", "mlir::ModuleOp"> {
  let summary = "replace gates by deterministic masks of exactly the target sizes";
  let description = [{
    For every gate: clamp log_alpha to ±ln 100, keep in each row the
    `target_size` largest entries (ties: the lower index) with the value
    sigmoid(1.2·log_alpha), set the others to 0 (METHOD.md §2). For
    grouped-query models, the target number of kv groups is kept by kv_group
    score, and in every kept group the same number of query heads
    (target heads / target kv-heads) by head score (docs/masks.md). The masks
    are written as float32 tensors `shear.mask.<family>` to
    `<output stem>.masks.safetensors` beside the output, and the gates are
    replaced by references to them.
  }];
}

def SelectStructure : Pass<"select-structure", "mlir::ModuleOp"> {
  let summary = "one-shot pruning: choose the target sub-structure from scores, as final masks";
  let description = [{
    Scores every prunable unit of a masked model and keeps, in each row, the
    `target_size` highest (ties: the lower index), with the grouped-query rule
    of finalize-masks (kv groups first, then the same number of heads in each
    kept group). `method=magnitude`: the sum of squares of the weights that
    belong to the unit (a head: its q_proj rows and o_proj columns; a kv
    group: its k_proj and v_proj rows and its heads'; an intermediate
    channel: its gate_proj and up_proj rows and down_proj column; a hidden
    channel: its column in the embedding, every q/k/v/gate/up_proj and
    lm_head, its row in every o_proj and down_proj, and its norm weights; a
    layer: all its weights). `method=activation`: the scores file `scores`
    written by `shear-run importance` (mean activation norms of heads, kv
    groups, neurons and hidden channels; block influence of layers).
    `method=random`: uniform scores from `seed`.
    Kept units get mask 1 and the others 0, written as finalize-masks writes
    masks (`<output stem>.masks.safetensors`), so --materialize-shapes cuts
    the model to the exact target without scaling it (docs/one-shot.md).
    `write=gates` instead sets the gate parameters (log_alpha) of the kept
    units to `keep-log-alpha` and of the others to `drop-log-alpha`: learned
    pruning (shear-run prune) then starts from this choice.
  }];
  let options = [
    Option<"method", "method", "std::string", /*default=*/"\"magnitude\"", "magnitude, activation or random">,
    Option<"scores", "scores", "std::string", /*default=*/"", "method=activation: the scores file of shear-run importance">,
    Option<"seed", "seed", "uint64_t", /*default=*/"1", "seed of method=random">,
    Option<"write", "write", "std::string", /*default=*/"\"masks\"",
           "masks (final 0/1 masks) or gates (gate parameters for learned pruning to start from)">,
    Option<"keepLogAlpha", "keep-log-alpha", "double", /*default=*/"5.0", "write=gates: log_alpha of kept units">,
    Option<"dropLogAlpha", "drop-log-alpha", "double", /*default=*/"-5.0", "write=gates: log_alpha of the others">,
  ];
}

def MaterializeShapes : Pass<"materialize-shapes", "mlir::ModuleOp"> {
  let summary = "fold final masks into the weights and slice to the compact model";
  let description = [{
    METHOD.md §5: folds the kept mask values into the weights, removes pruned
    layers (renumbering the survivors), heads, kv groups, intermediate and
    hidden dims, and never scales lm_head (with tied embeddings and a hidden
    mask, the compact model is untied). Writes the compact weights, in the
    source dtype and one tensor at a time, to `<output stem>.safetensors`
    beside the output, and replaces the module by a dense one of exactly the
    target shape. Needs deterministic masks: run after finalize-masks.

    `weight-dtype=f32` writes float32 weights instead: folding soft mask values
    into bf16/f16 weights rounds them again (about 2^-9 relative for bf16), so
    a bit-faithful compact model of a bf16 source needs float32.
  }];
  let options = [
    Option<"weightDtype", "weight-dtype", "std::string", /*default=*/"\"source\"",
           "dtype of the compact weights: source, f32, bf16 or f16">,
  ];
}

def LowerToRuntime : Pass<"lower-to-runtime", "mlir::ModuleOp"> {
  let summary = "lower the decoder ops to calls of runtime kernels";
  let description = [{
    Rewrites every decoder op of @forward (embed, rms_norm, attention, mlp,
    residual_add, lm_head, cross_entropy, mask_row) into a `shear.kernel` call
    of the same name carrying the op's attributes and a `masks` list naming
    the optional mask arguments present. In evaluation mode a `shear.gate`
    becomes `gate.eval`: the deterministic mask keeping, per row, the expected
    number of entries round(Σ P(z≠0)) (`eval-masks=expected`, what the
    reference code uses while pruning) or the target number
    (`eval-masks=target`), or all ones (`eval-masks=none`: the unpruned
    source model). The result is what shear-run executes.
  }];
  let options = [
    Option<"evalMasks", "eval-masks", "std::string", /*default=*/"\"expected\"",
           "deterministic mask sizes in evaluation: expected, target or none">,
  ];
}

def BuildTrainStep : Pass<"build-train-step", "mlir::ModuleOp"> {
  let summary = "build the loss of one training step from @forward";
  let description = [{
    Adds `@train_step(%ids, %labels, %step)`, a copy of @forward followed by
    the mean next-token cross-entropy and, in `prune` mode, the Lagrangian
    target constraint of every gate (METHOD.md §3): a `lagrangian` kernel per
    family with its multipliers `shear.lambda1.<family>` and
    `shear.lambda2.<family>` (zero-initialized weights in `lambda-state`), the
    family's target sparsity 1 − target_size/n warmed up over
    `warmup-steps`. It returns the total loss first, then the metrics named by
    the `shear.metrics` attribute (lm_loss, lagrangian, and per family the
    expected and the current target sparsity). `@train_step` carries
    `shear.training` (lower-to-runtime then samples the gates with `seed`).
    `train` mode takes a dense model; `prune` mode a model with gates.

    With `distill-from` (a model module with the same vocabulary: the
    source; a masked module stands for the dense model its weights are, its
    gates and masks dropped), the teacher's forward pass is part of the step: its ops carry
    `shear.frozen` (lowered for evaluation, never differentiated) and its
    weights are `teacher.<name>` marked `frozen` (read from the teacher's
    files, no gradient, no optimizer state). The loss is then a `distill`
    kernel: (1 − alpha) · cross-entropy + alpha · temperature² ·
    KL(teacher ‖ student) at `distill-temperature`, and the metrics add
    kd_loss (the KL).
  }];
  let options = [
    Option<"mode", "mode", "std::string", /*default=*/"\"prune\"", "prune or train">,
    Option<"warmupSteps", "warmup-steps", "int64_t", /*default=*/"0",
           "steps over which the target sparsity grows linearly from 0">,
    Option<"seed", "seed", "uint64_t", /*default=*/"1", "seed of the gate noise">,
    Option<"lambdaState", "lambda-state", "std::string",
           /*default=*/"\"lambdas.safetensors\"",
           "file of the Lagrange multipliers (relative to the module)">,
    Option<"distillFrom", "distill-from", "std::string", /*default=*/"",
           "teacher model module for knowledge distillation (empty: none)">,
    Option<"distillTemperature", "distill-temperature", "double", /*default=*/"1.0",
           "softmax temperature of the distillation term">,
    Option<"distillAlpha", "distill-alpha", "double", /*default=*/"0.5",
           "weight of the distillation term (1 - alpha: the cross-entropy's)">,
  ];
}

def FuseKernels : Pass<"fuse-kernels", "mlir::ModuleOp"> {
  let summary = "replace kernel sequences by fused kernels where they pay";
  let description = [{
    Works on kernel-level IR (after lower-to-runtime, before differentiate).
    An `lm_head` whose logits only feed a `cross_entropy` becomes one
    `lm_head_cross_entropy` (in a `shear.training` function
    `lm_head_cross_entropy.train`, which also returns the loss's gradients
    for a unit cotangent, so its backward kernel only scales them): the
    logits are computed `loss-chunk` rows at a time and never held whole
    (0: the backend chooses). Logits with another use (a distillation
    teacher's, a function's result) stay as they are.
  }];
  let options = [
    Option<"lossChunk", "loss-chunk", "int64_t", /*default=*/"0",
           "rows of logits per chunk of lm_head_cross_entropy (0: the backend's choice)">,
  ];
}

def AssignPrecision : Pass<"assign-precision", "mlir::ModuleOp"> {
  let summary = "choose the element type every weight and activation is held in";
  let description = [{
    Works on kernel-level IR (after lower-to-runtime and fuse-kernels, before
    differentiate). With `dtype=bf16` the activations of the compute kernels
    (embed, rms_norm, attention, mlp, residual_add, and what their `.train`
    variants keep for the backward) are bf16, and so are the parameters they
    read; the attention's log-sum-exp, logits, losses, masks, gates,
    Lagrange multipliers and (after differentiate) every gradient stay
    float32. Kernels compute in float32 whatever the storage. With
    `master-weights` (programs that train) a parameter is held as a float32
    master weight, which AdamW updates, and read through a `cast` to its
    bf16 working copy; otherwise it is held as bf16. A frozen weight (a
    distillation teacher's) is held as bf16 either way. Function signatures
    are kept: a returned value whose type changed is cast back. `dtype=f32`
    holds every float weight and activation in float32, whatever the files
    store.

    Example (bf16, master-weights):

        %w = shear.weight "model.layers.0.mlp.up_proj.weight" from "m.safetensors" : tensor<12x8xf32>
        %w16 = shear.kernel "cast"(%w) : (tensor<12x8xf32>) -> tensor<12x8xbf16>
  }];
  let options = [
    Option<"dtype", "dtype", "std::string", /*default=*/"\"f32\"",
           "the storage type of weights and activations: f32 or bf16">,
    Option<"masterWeights", "master-weights", "bool", /*default=*/"false",
           "hold trained parameters as float32 masters and read bf16 working copies">,
  ];
}

def ReadWorkingCopies : Pass<"read-working-copies", "mlir::ModuleOp"> {
  let summary = "evaluations of a bf16 training program read the working copies";
  let description = [{
    In every function that is not a training step (the evaluations a
    training program runs between its steps), each `cast` of a float32
    master weight gives way to a read of the master's working copy
    `work:<name>`, the weight the training step's `adamw` rewrites
    (build-optimizer's `working-copies`): the same bf16 values, without
    rounding every master again for every evaluation batch, and the masters
    then read by the optimizer alone (so `--offload optimizer` can keep them
    in host memory). The pipeline runs it where the training step has
    working copies.

    Example: `%w = shear.weight "model.norm.weight" ... : tensor<8xf32>` and
    `shear.kernel "cast"(%w)` become
    `shear.weight "work:model.norm.weight" ... {tensor = "model.norm.weight"} : tensor<8xbf16>`.
  }];
}

def Differentiate : Pass<"differentiate", "mlir::ModuleOp"> {
  let summary = "reverse-mode derivatives of a lowered training step";
  let description = [{
    For every function marked `shear.training` and lowered to kernels, adds
    the reverse sweep: the cotangent of the first result (the loss) is
    propagated through each kernel's `<kernel>.bwd` (which takes the forward
    arguments, the forward results and the cotangent of the first result, and
    returns one cotangent per float argument), cotangents of values used more
    than once are summed. The gradient of every trainable weight (all but
    final masks `shear.mask.*`) is appended to the results, in weight order;
    the attribute `shear.gradients` lists their (file, name).
  }];
}

def Recompute : Pass<"recompute", "mlir::ModuleOp"> {
  let summary = "recompute saved activations in the backward pass instead of keeping them";
  let description = [{
    In every differentiated function (`shear.gradients`), the kernels named
    by `kernels` (`attention`, `mlp`, `norm`, `weights`: a bf16 program's
    casts of its master weights; comma-separated; `layer`: all four) stop
    keeping what the backward needs: the forward calls the plain
    kernel (`attention`, `mlp`: one result), and a copy of each chosen kernel
    (`attention.train`, `mlp.train`, `rms_norm`), placed before the first
    backward kernel that reads its results (or before the copy that reads
    them), recomputes them from the same operands; the backward reads the
    copies. With `layer` only the residual stream (and the masks) lives from
    the forward to the backward. The results are bit-identical (the same
    kernels on the same operands).
  }];
  let options = [
    Option<"kernels", "kernels", "std::string", /*default=*/"\"layer\"",
           "kernels to recompute: attention, mlp, norm, weights (comma-separated), or layer">,
  ];
}

def DataParallel : Pass<"data-parallel", "mlir::ModuleOp"> {
  let summary = "average gradients over the data-parallel ranks";
  let description = [{
    In every differentiated function (`shear.gradients`), each returned
    gradient goes through an in-place `all_reduce` kernel (the mean over the
    ranks of `mpirun -np N shear-run ...`) placed right after the gradient is
    complete, so a backend can overlap it with the rest of the backward pass.
    With one rank `all_reduce` does nothing. Marks the function
    `shear.data_parallel`; running it again changes nothing. Run it between
    differentiate and build-optimizer.
  }];
}

def BuildOptimizer : Pass<"build-optimizer", "mlir::ModuleOp"> {
  let summary = "gradient clipping and AdamW updates, as kernels";
  let description = [{
    Replaces the gradients a differentiated training step returns by the
    updated parameters and AdamW moments: one `global_norm` over all
    gradients (clipping to `max-norm`), and per weight an `adamw` kernel with
    its moments (`adam.m:<name>`, `adam.v:<name>` in `optimizer-state`,
    zero-initialized) and its group's learning rate, a new function argument:
    weights (lr), gate parameters (lr_gate, projected to ±ln 100) and Lagrange
    multipliers (lr_lambda, negative: ascent). METHOD.md §3: β 0.9/0.95,
    eps 1e-8, no weight decay. `shear.updates` lists the (file, name) each
    updated-tensor result replaces; `grad_norm` joins the metrics.

    With `working-copies` (bf16 programs) a master weight's per-step `cast`s
    to its bf16 working copy give way to a weight `work:<name>` that its
    `adamw` rewrites (operand `w`) from the updated float32 value: the copy
    is made by the optimizer kernel that already holds the value, not by a
    cast reading the master again at every step. The copy then lives across
    steps (2 bytes per parameter), so the pipeline leaves the casts where
    `--recompute weights` asks for them to be made again.
  }];
  let options = [
    Option<"optimizerState", "optimizer-state", "std::string",
           /*default=*/"\"optimizer.safetensors\"",
           "file of the AdamW moments (relative to the module)">,
    Option<"maxNorm", "max-norm", "double", /*default=*/"1.0", "gradient clipping norm">,
    Option<"beta1", "beta1", "double", /*default=*/"0.9", "AdamW beta1">,
    Option<"beta2", "beta2", "double", /*default=*/"0.95", "AdamW beta2">,
    Option<"epsilon", "eps", "double", /*default=*/"1e-8", "AdamW epsilon">,
    Option<"weightDecay", "weight-decay", "double", /*default=*/"0.0", "AdamW weight decay">,
    Option<"workingCopies", "working-copies", "bool", /*default=*/"false",
           "bf16 working copies written by adamw instead of cast at every step">,
  ];
}

def SplitAccumulation : Pass<"split-accumulation", "mlir::ModuleOp"> {
  let summary = "split a training step into micro-batch gradients and one update";
  let description = [{
    Adds two functions made from @train_step (after build-optimizer, which
    it leaves as it is), so that a step can accumulate gradients over
    micro-batches: a batch too large for the device's activations runs as N
    micro-batches, one at a time.

    `@train_micro(%ids, %labels, %step, %grad_scale, %first)` is the step's
    forward and backward pass; where each parameter's gradient is computed
    it is added to a float32 weight `grad:<name>` (zero-initialized, beside
    the moments) by `accumulate(sum, g, grad_scale, first)`: sum + scale * g,
    or scale * g where first is nonzero (the step's first micro-batch). Its
    results are the step's metrics but those of the optimizer, then the
    sums (`shear.updates`). The runtime passes 1/N as grad_scale, so the sums
    are the mean of the micro-batches' gradients: the gradient of the whole
    batch's mean loss, as data-parallel ranks average it.

    `@train_apply(%step, %lr...)` is the step's optimizer (`all_reduce`,
    `global_norm`, `adamw`) with the sums in place of the gradients: its
    results are `grad_norm` and the step's updates, then each sum that an
    `all_reduce` averaged in place (an update of itself).
  }];
}

def BuildEvalStep : Pass<"build-eval-step", "mlir::ModuleOp"> {
  let summary = "build the evaluation loss of a batch";
  let description = [{
    Adds `@eval_loss(%ids [batch, seq], %labels [batch, seq]) -> loss`: a
    copy of @forward followed by the mean cross-entropy of its logits against
    the labels (positions labelled -100 are ignored). Evaluation then moves
    one number off the device per batch rather than the [batch, seq, vocab]
    logits. Replaces an existing @eval_loss. Lower it with lower-to-runtime
    (gates take deterministic masks, as `eval-masks` says).
  }];
}

def BuildImportanceStep : Pass<"build-importance-step", "mlir::ModuleOp"> {
  let summary = "build the activation statistics of a calibration batch";
  let description = [{
    Adds `@importance(%ids [batch, seq]) -> statistics` from a lowered
    @forward (run lower-to-runtime first; for a masked model with
    eval-masks=none, so the statistics are the source model's): attention
    and mlp calls become their training variants, which also return each
    head's output before o_proj and down_proj's input, and `unit_norms` /
    `cosine_sum` reduce them over the batch's tokens. It returns, named by
    `shear.metrics`: `hidden` [D] (Σ over every RMSNorm output of
    Σ_tokens |y_d|), then for each layer l `head.l` [H] (Σ_tokens of the
    L2 norm of the head's output), `intermediate.l` [M] (Σ_tokens |h_m|,
    h = silu(gate) * up) and `layer.l` [] (Σ_tokens of the cosine between
    the layer's input and output residual stream). `shear-run importance`
    divides by the tokens and turns them into scores (docs/one-shot.md).
  }];
}

def BuildDecodeStep : Pass<"build-decode-step", "mlir::ModuleOp"> {
  let summary = "build an incremental decoding step with a KV cache";
  let description = [{
    Adds `@decode(%ids [batch, t], %pos, %k_0, %v_0, ..., %k_{L-1}, %v_{L-1})`
    returning the logits of the t new tokens and the updated caches: a copy
    of @forward whose attention ops become `attention.decode` kernels that
    read and extend per-layer key/value caches [batch, kv_heads, positions,
    head_dim] (`shear-run generate` allocates them). Lower it with
    lower-to-runtime (gates take their final, target-size masks).
  }];
}

#endif // SHEAR_TRANSFORMS_PASSES_TD
