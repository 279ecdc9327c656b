/*
 * ctorch.h: the plain C face of libtorch that SimpleDet's Swift code calls.
 *
 * Conventions
 * - Every function that can fail returns `int`: 0 on success, non-zero on failure. On failure
 *   `ct_last_error()` holds libtorch's message (thread-local, valid until the next failing call
 *   on the same thread). No C++ exception ever leaves this library.
 * - Results come back through `out` pointers. A returned `ct_tensor` is owned by the caller and
 *   released with `ct_tensor_free`.
 * - Optional tensor arguments are NULL when absent.
 * - Enumerations are this header's own, so the Swift side never depends on c10's numbering.
 */
#ifndef CTORCH_H
#define CTORCH_H

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

typedef struct ct_tensor_impl *ct_tensor;
typedef struct ct_generator_impl *ct_generator;

typedef enum {
  CT_FLOAT32 = 0,
  CT_FLOAT64 = 1,
  CT_FLOAT16 = 2,
  CT_BFLOAT16 = 3,
  CT_INT64 = 4,
  CT_INT32 = 5,
  CT_INT16 = 6,
  CT_INT8 = 7,
  CT_UINT8 = 8,
  CT_BOOL = 9,
} ct_dtype;

typedef enum { CT_DEVICE_CPU = 0, CT_DEVICE_CUDA = 1 } ct_device_type;

/* A Swift number handed to libtorch with its kind kept, so `intTensor + 1` stays integral. */
typedef struct {
  int32_t kind; /* 0: float (uses f), 1: integer (uses i), 2: bool (uses i) */
  double f;
  int64_t i;
} ct_scalar;

/* ---- library ---------------------------------------------------------------------------- */
const char *ct_last_error(void);
const char *ct_version(void);
int ct_set_num_threads(int32_t n);
int32_t ct_get_num_threads(void);
void ct_manual_seed(uint64_t seed);
int32_t ct_cuda_device_count(void);
int32_t ct_has_bf16_cpu(void);
/* 1 when the library pinned glibc malloc's thresholds at load (see core.cpp), 0 when the user
   configured malloc or opted out with SIMPLEDET_MALLOC=system. */
int32_t ct_malloc_pinned(void);

/* Activation checkpointing: `run` computes a segment's outputs from its inputs (called back;
   it takes ownership of `inputs` and hands back at most `capacity` owned `outputs`, returning
   non-zero with ct_last_error set on failure; `recomputing` is 1 for the second run in
   backward). ct_checkpoint runs the segment without recording, keeps only its inputs, and runs
   it again with recording in backward. `parameters` are the trainable tensors the segment reads
   besides its inputs (their gradients come back through the graph from backward's second run). `release(context)`
   is called once when no backward can need the segment any more. */
typedef int (*ct_segment_fn)(void *context, ct_tensor *inputs, int64_t count, int32_t recomputing, ct_tensor *outputs,
                             int64_t capacity, int64_t *output_count);
int ct_checkpoint(ct_segment_fn run, void *context, void (*release)(void *), const ct_tensor *inputs, int64_t count,
                  const ct_tensor *parameters, int64_t parameter_count, ct_tensor *outputs, int64_t capacity,
                  int64_t *output_count);

/* In-place activated batch norm in training: batch statistics (updating the running ones when
   given), the affine transform with `weight` (which must be positive: |γ| + ε), then a leaky
   ReLU of `slope` when `activation` is 1; only the output is kept for backward. `group`: the
   processes whose batches are normalised together (SyncIABN, with ct_sync_batch_norm's
   statistics and gradient convention); NULL, or a group of one, for this process alone. */
int ct_inplace_abn(ct_tensor x, ct_tensor weight, ct_tensor bias, ct_tensor running_mean, ct_tensor running_var,
                   double momentum, double epsilon, double slope, int32_t activation,
                   struct ct_process_group_impl *group, ct_tensor *out);

/* ---- distributed (c10d: TCPStore rendezvous, Gloo collectives, the DDP Reducer) ----------- */
typedef struct ct_process_group_impl *ct_process_group;
typedef struct ct_reducer_impl *ct_reducer;

/* Joins `world_size` processes: rank 0 serves the TCPStore at master_address:master_port, the
   others connect; every blocking call gives up after timeout_ms. Gloo's endpoint is the local
   network interface `interface_name` when given (like GLOO_SOCKET_IFNAME), else local_address. */
int ct_process_group_create(const char *master_address, int32_t master_port, int32_t rank, int32_t world_size,
                            const char *local_address, const char *interface_name, int64_t timeout_ms,
                            ct_process_group *out);
/* Another group over the same processes and store (collectives of the two never mix). */
int ct_process_group_new_group(ct_process_group base, const char *name, ct_process_group *out);
void ct_process_group_free(ct_process_group group);
/* op: 0 sum, 1 max, 2 min; in place, waits for the result. */
int ct_process_group_allreduce(ct_process_group group, ct_tensor tensor, int32_t op);
int ct_process_group_broadcast(ct_process_group group, const ct_tensor *tensors, int64_t count, int32_t root);
int ct_process_group_barrier(ct_process_group group);
/* Every rank's `tensor` stacked along a new first axis, in rank order. */
int ct_process_group_allgather(ct_process_group group, ct_tensor tensor, ct_tensor *out);
/* Cross-process batch norm in training over [N, C, ...] (N may be 0 on some processes): the
   statistics of the group's whole batch (sums all-reduced in `group`), running statistics updated
   with its unbiased variance when given; backward all-reduces the gradient sums and returns this
   process's own weight and bias gradients (for the gradient reducer to average). A null group,
   or one of a single process, is ordinary batch norm (ct_batch_norm in training). */
int ct_sync_batch_norm(ct_tensor x, ct_tensor weight, ct_tensor bias, ct_tensor running_mean, ct_tensor running_var,
                       double momentum, double epsilon, ct_process_group group, ct_tensor *out);
int ct_store_set(ct_process_group group, const char *key, const uint8_t *bytes, int64_t length);
/* Waits for `key`; the bytes are released with ct_bytes_free. */
int ct_store_get(ct_process_group group, const char *key, uint8_t **bytes, int64_t *length);
int ct_store_delete(ct_process_group group, const char *key);
void ct_bytes_free(uint8_t *bytes);
/* Gradient averaging over `parameters` in buckets (the first of first_bucket_bytes, then
   bucket_bytes) launched from autograd hooks during backward; wire_dtype (-1 or CT_FLOAT32: as
   is, CT_FLOAT16 or CT_BFLOAT16) is what buckets travel as. */
int ct_reducer_create(ct_process_group group, const ct_tensor *parameters, int64_t count, int64_t bucket_bytes,
                      int64_t first_bucket_bytes, int32_t find_unused, int32_t wire_dtype, ct_reducer *out);
void ct_reducer_free(ct_reducer reducer);
int ct_reducer_prepare_for_forward(ct_reducer reducer);
/* Before each backward: `outputs` are where it starts (to find parameters that get no gradient). */
int ct_reducer_prepare_for_backward(ct_reducer reducer, const ct_tensor *outputs, int64_t count);
/* Bytes the last backward's buckets moved, and the share of their time that overlapped backward. */
void ct_reducer_last_backward(ct_reducer reducer, int64_t *bytes, double *hidden_share);

/* Bytes held by CPU tensors. `start` puts a counting allocator in front of libtorch's CPU
   allocation (once; tensors allocated before it are not counted); `stats` gives the bytes live
   now and the most live since the start or the last `reset_peak`. */
void ct_memory_tracking_start(void);
void ct_memory_stats(int64_t *live, int64_t *peak);
void ct_memory_reset_peak(void);
/* The most bytes held at once by tensors allocated on the calling thread between `begin` and
   `end` (freed on any thread), whatever other threads allocate; one measurement at a time. */
void ct_memory_thread_measure_begin(void);
int64_t ct_memory_thread_measure_end(void);

/* grad mode is thread-local in libtorch */
int32_t ct_grad_enabled(void);
void ct_set_grad_enabled(int32_t enabled);

/* CPU autocast (mixed precision), thread-local like grad mode. `enter` turns it on for `dtype`
 * and reports the previous state; `exit` restores that state and, when the outermost region
 * ends, clears the cache of casted weights. */
int ct_autocast_enter(int32_t dtype, int32_t *previous_enabled, int32_t *previous_dtype);
int ct_autocast_exit(int32_t previous_enabled, int32_t previous_dtype);
int32_t ct_autocast_enabled(void);
/* turns CPU autocast on or off on this thread (dtype and nesting untouched); returns the previous state */
int32_t ct_autocast_set_enabled(int32_t enabled);

/* Operator profiling (libtorch's legacy CPU profiler), thread-local with propagation into
 * libtorch's worker threads. `end` writes the recorded operators as a Chrome trace (JSON). */
int ct_profiler_begin(void);
int ct_profiler_end(const char *trace_path);

/* ---- generators ------------------------------------------------------------------------- */
int ct_generator_new(uint64_t seed, ct_generator *out);
void ct_generator_free(ct_generator g);
int ct_generator_set_seed(ct_generator g, uint64_t seed);
/* The generator's whole state as bytes (for checkpoints). Call with buf NULL to learn the size. */
int ct_generator_get_state(ct_generator g, uint8_t *buf, size_t cap, size_t *size);
int ct_generator_set_state(ct_generator g, const uint8_t *buf, size_t size);

/* ---- tensor lifetime and properties ----------------------------------------------------- */
void ct_tensor_free(ct_tensor t);
int ct_tensor_defined(ct_tensor t);
int ct_dim(ct_tensor t, int64_t *out);
/* Writes up to `cap` sizes; `*ndim` receives the true rank. */
int ct_sizes(ct_tensor t, int64_t *sizes, int64_t cap, int64_t *ndim);
int ct_strides(ct_tensor t, int64_t *strides, int64_t cap, int64_t *ndim);
int ct_numel(ct_tensor t, int64_t *out);
int ct_dtype_of(ct_tensor t, int32_t *out);
int ct_device_of(ct_tensor t, int32_t *type, int32_t *index);
int ct_is_contiguous(ct_tensor t, int32_t channels_last, int32_t *out);
int ct_requires_grad(ct_tensor t, int32_t *out);
int ct_set_requires_grad(ct_tensor t, int32_t flag);
int ct_is_leaf(ct_tensor t, int32_t *out);
int ct_same_storage(ct_tensor a, ct_tensor b, int32_t *out);
int ct_to_string(ct_tensor t, char *buf, size_t cap, size_t *size);

/* ---- creation --------------------------------------------------------------------------- */
int ct_empty(const int64_t *shape, int64_t ndim, int32_t dtype, int32_t dev, int32_t dev_index, ct_tensor *out);
int ct_full(const int64_t *shape, int64_t ndim, ct_scalar value, int32_t dtype, int32_t dev, int32_t dev_index, ct_tensor *out);
int ct_arange(ct_scalar start, ct_scalar end, ct_scalar step, int32_t dtype, int32_t dev, int32_t dev_index, ct_tensor *out);
int ct_linspace(double start, double end, int64_t steps, int32_t dtype, int32_t dev, int32_t dev_index, ct_tensor *out);
int ct_eye(int64_t n, int32_t dtype, int32_t dev, int32_t dev_index, ct_tensor *out);
/* Copies `nbytes` from `data` (host memory, dtype's element layout, row-major) into a new CPU tensor. */
int ct_from_data(const void *data, size_t nbytes, const int64_t *shape, int64_t ndim, int32_t dtype, ct_tensor *out);
/* Copies the tensor (any device, any layout) into `dst` as contiguous host memory; nbytes must match. */
int ct_copy_to_host(ct_tensor t, void *dst, size_t nbytes);
int ct_item(ct_tensor t, ct_scalar *out);

/* distribution: 0 uniform [0,1), 1 standard normal, 2 integer in [low, high), 3 bernoulli(p=low) */
int ct_random(int32_t distribution, const int64_t *shape, int64_t ndim, double low, double high, int32_t dtype,
              int32_t dev, int32_t dev_index, ct_generator g, ct_tensor *out);
/* In place: 0 uniform [a, b), 1 normal(mean a, std b) */
int ct_random_(ct_tensor t, int32_t distribution, double a, double b, ct_generator g);
int ct_randperm(int64_t n, int32_t dev, int32_t dev_index, ct_generator g, ct_tensor *out);
int ct_multinomial(ct_tensor probs, int64_t n, int32_t replacement, ct_generator g, ct_tensor *out);

/* ---- conversion ------------------------------------------------------------------------- */
int ct_to(ct_tensor t, int32_t dtype, int32_t dev, int32_t dev_index, int32_t copy, ct_tensor *out);
int ct_contiguous(ct_tensor t, int32_t channels_last, ct_tensor *out);
int ct_clone(ct_tensor t, ct_tensor *out);
int ct_detach(ct_tensor t, ct_tensor *out);
int ct_alias(ct_tensor t, ct_tensor *out);
/* Replaces t's data (storage, dtype, device) with src's, keeping t's identity and autograd leaf status. */
int ct_set_data(ct_tensor t, ct_tensor src);

/* ---- element-wise ----------------------------------------------------------------------- */
typedef enum {
  CT_NEG, CT_ABS, CT_EXP, CT_LOG, CT_LOG2, CT_LOG1P, CT_EXPM1, CT_SQRT, CT_RSQRT, CT_SQUARE, CT_RECIPROCAL,
  CT_SIN, CT_COS, CT_TAN, CT_ATAN, CT_FLOOR, CT_CEIL, CT_ROUND, CT_TRUNC, CT_SIGN, CT_LOGICAL_NOT,
  CT_SIGMOID, CT_TANH, CT_RELU, CT_RELU6, CT_GELU, CT_SILU, CT_SOFTPLUS, CT_LOGSIGMOID, CT_ISNAN, CT_ISFINITE,
  CT_HARDSWISH, CT_HARDSIGMOID, CT_MISH, CT_ERF, CT_BITWISE_NOT, CT_ISINF,
} ct_unary_op;
int ct_unary(int32_t op, ct_tensor a, ct_tensor *out);
/* In place version; used by optimizers and in-place activations. */
int ct_unary_(int32_t op, ct_tensor a);

typedef enum {
  CT_ADD, CT_SUB, CT_MUL, CT_DIV, CT_POW, CT_MAXIMUM, CT_MINIMUM, CT_ATAN2, CT_REMAINDER, CT_FLOOR_DIVIDE,
  CT_EQ, CT_NE, CT_LT, CT_LE, CT_GT, CT_GE, CT_LOGICAL_AND, CT_LOGICAL_OR, CT_LOGICAL_XOR,
  CT_BITWISE_AND, CT_BITWISE_OR, CT_BITWISE_XOR, CT_DIV_TRUNC,
} ct_binary_op;
int ct_binary(int32_t op, ct_tensor a, ct_tensor b, ct_tensor *out);
int ct_binary_scalar(int32_t op, ct_tensor a, ct_scalar b, ct_tensor *out);
int ct_scalar_binary(int32_t op, ct_scalar a, ct_tensor b, ct_tensor *out);
int ct_binary_(int32_t op, ct_tensor a, ct_tensor b);
int ct_binary_scalar_(int32_t op, ct_tensor a, ct_scalar b);

/* a += alpha * b */
int ct_add_scaled_(ct_tensor a, ct_tensor b, ct_scalar alpha);
/* a += value * t1 * t2 ; a += value * t1 / t2 */
int ct_addcmul_(ct_tensor a, ct_tensor t1, ct_tensor t2, ct_scalar value);
int ct_addcdiv_(ct_tensor a, ct_tensor t1, ct_tensor t2, ct_scalar value);
/* a = a + weight * (end - a) */
int ct_lerp_(ct_tensor a, ct_tensor end, ct_scalar weight);
int ct_copy_(ct_tensor dst, ct_tensor src);
int ct_fill_(ct_tensor t, ct_scalar value);
int ct_zero_(ct_tensor t);
/* NaN-safe bounds: has_min/has_max choose which side clamps. */
int ct_clamp(ct_tensor t, int32_t has_min, ct_scalar min, int32_t has_max, ct_scalar max, ct_tensor *out);
int ct_clamp_(ct_tensor t, int32_t has_min, ct_scalar min, int32_t has_max, ct_scalar max);
int ct_clamp_tensor(ct_tensor t, ct_tensor min, ct_tensor max, ct_tensor *out);
int ct_where(ct_tensor cond, ct_tensor a, ct_tensor b, ct_tensor *out);
int ct_leaky_relu(ct_tensor t, double slope, ct_tensor *out);
/* Fake quantization (quantization-aware training): round(x / scale) + zero_point clamped to
   [quant_min, quant_max], then scaled back; the gradient passes inside that range, zero outside.
   `scale` float32 and `zero_point` integer, one element (per tensor) or one per slice along
   `axis` (per channel). */
int ct_fake_quantize_per_tensor(ct_tensor x, ct_tensor scale, ct_tensor zero_point, int64_t quant_min,
                                int64_t quant_max, ct_tensor *out);
int ct_fake_quantize_per_channel(ct_tensor x, ct_tensor scales, ct_tensor zero_points, int64_t axis,
                                 int64_t quant_min, int64_t quant_max, ct_tensor *out);

/* INT8 inference (FBGEMM): a convolution's or linear layer's weights prepacked as symmetric int8
   per output channel with `scales` (float32, one per output channel; zero points 0) and its
   float32 `bias` (NULL: none); `run` quantizes x per tensor to uint8 with the input scale and
   zero point, runs the int8 kernel, requantizes its int32 accumulation to uint8 with the output
   scale and zero point, and returns that dequantized to float32. */
typedef struct ct_int8_layer_impl *ct_int8_layer;
int ct_int8_conv2d_pack(ct_tensor weight, ct_tensor scales, ct_tensor bias, const int64_t *stride,
                        const int64_t *padding, const int64_t *dilation, int64_t groups, ct_int8_layer *out);
int ct_int8_linear_pack(ct_tensor weight, ct_tensor scales, ct_tensor bias, ct_int8_layer *out);
int ct_int8_layer_run(ct_int8_layer layer, ct_tensor x, double input_scale, int64_t input_zero_point,
                      double output_scale, int64_t output_zero_point, ct_tensor *out);
void ct_int8_layer_free(ct_int8_layer layer);
int ct_elu(ct_tensor t, double alpha, ct_tensor *out);
int ct_hardtanh(ct_tensor t, double min, double max, ct_tensor *out);
int ct_allclose(ct_tensor a, ct_tensor b, double rtol, double atol, int32_t equal_nan, int32_t *out);
int ct_equal(ct_tensor a, ct_tensor b, int32_t *out);

/* ---- reductions ------------------------------------------------------------------------- */
typedef enum {
  CT_SUM, CT_MEAN, CT_PROD, CT_AMAX, CT_AMIN, CT_ALL, CT_ANY, CT_STD, CT_VAR, CT_NORM2, CT_LOGSUMEXP,
  CT_COUNT_NONZERO,
} ct_reduce_op;
/* ndims < 0 reduces over every dimension. */
int ct_reduce(int32_t op, ct_tensor a, const int64_t *dims, int64_t ndims, int32_t keepdim, ct_tensor *out);
/* 0 max, 1 min, 2 argmax, 3 argmin, 4 median (values and indices for 0, 1, 4); 5 cumsum, 6 cumprod */
int ct_reduce_dim(int32_t op, ct_tensor a, int64_t dim, int32_t keepdim, ct_tensor *values, ct_tensor *indices);
int ct_norm(ct_tensor a, double p, const int64_t *dims, int64_t ndims, int32_t keepdim, ct_tensor *out);

/* ---- shape and indexing ----------------------------------------------------------------- */
int ct_reshape(ct_tensor t, const int64_t *shape, int64_t ndim, ct_tensor *out);
int ct_view(ct_tensor t, const int64_t *shape, int64_t ndim, ct_tensor *out);
int ct_permute(ct_tensor t, const int64_t *dims, int64_t ndim, ct_tensor *out);
int ct_transpose(ct_tensor t, int64_t d0, int64_t d1, ct_tensor *out);
int ct_squeeze(ct_tensor t, int32_t has_dim, int64_t dim, ct_tensor *out);
int ct_unsqueeze(ct_tensor t, int64_t dim, ct_tensor *out);
int ct_flatten(ct_tensor t, int64_t start, int64_t end, ct_tensor *out);
int ct_expand(ct_tensor t, const int64_t *shape, int64_t ndim, ct_tensor *out);
int ct_repeat(ct_tensor t, const int64_t *repeats, int64_t ndim, ct_tensor *out);
int ct_flip(ct_tensor t, const int64_t *dims, int64_t ndim, ct_tensor *out);
int ct_cat(const ct_tensor *ts, int64_t n, int64_t dim, ct_tensor *out);
int ct_stack(const ct_tensor *ts, int64_t n, int64_t dim, ct_tensor *out);
/* Writes up to `cap` pieces into outs; `*count` receives how many there are. */
int ct_split(ct_tensor t, const int64_t *sizes, int64_t nsizes, int64_t dim, ct_tensor *outs, int64_t cap, int64_t *count);
int ct_chunk(ct_tensor t, int64_t chunks, int64_t dim, ct_tensor *outs, int64_t cap, int64_t *count);
int ct_slice(ct_tensor t, int64_t dim, int64_t start, int64_t end, int64_t step, ct_tensor *out);
int ct_select(ct_tensor t, int64_t dim, int64_t index, ct_tensor *out);
int ct_index_select(ct_tensor t, int64_t dim, ct_tensor index, ct_tensor *out);
/* t[index] with one boolean or integer index tensor applied at dimension `dim`. */
int ct_index(ct_tensor t, int64_t dim, ct_tensor index, ct_tensor *out);
/* t[index] = values, or += with accumulate. */
int ct_index_put_(ct_tensor t, int64_t dim, ct_tensor index, ct_tensor values, int32_t accumulate);
/* t[i0, i1, ...] with PyTorch's advanced-indexing rules: several index tensors broadcast together
   and pick elements jointly (t[rows, cols] gives pairs). A NULL entry is a full slice (`:`). */
int ct_index_tensors(ct_tensor t, const ct_tensor *indices, int64_t n, ct_tensor *out);
/* t[i0, i1, ...] = values (or += with accumulate), entries as in ct_index_tensors. */
int ct_index_put_tensors_(ct_tensor t, const ct_tensor *indices, int64_t n, ct_tensor values, int32_t accumulate);
int ct_gather(ct_tensor t, int64_t dim, ct_tensor index, ct_tensor *out);
/* reduce: 0 replace, 1 add */
int ct_scatter(ct_tensor t, int64_t dim, ct_tensor index, ct_tensor src, int32_t reduce, ct_tensor *out);
int ct_masked_select(ct_tensor t, ct_tensor mask, ct_tensor *out);
int ct_masked_fill(ct_tensor t, ct_tensor mask, ct_scalar value, ct_tensor *out);
int ct_masked_fill_(ct_tensor t, ct_tensor mask, ct_scalar value);
int ct_nonzero(ct_tensor t, ct_tensor *out);
int ct_topk(ct_tensor t, int64_t k, int64_t dim, int32_t largest, int32_t sorted, ct_tensor *values, ct_tensor *indices);
int ct_sort(ct_tensor t, int64_t dim, int32_t descending, int32_t stable, ct_tensor *values, ct_tensor *indices);
int ct_unique(ct_tensor t, int32_t sorted, int32_t return_inverse, int32_t return_counts, ct_tensor *values,
              ct_tensor *inverse, ct_tensor *counts);
/* mode 0: constant (value), 1: reflect, 2: replicate. pads as in torch.nn.functional.pad */
int ct_pad(ct_tensor t, const int64_t *pads, int64_t npads, int32_t mode, double value, ct_tensor *out);
int ct_tril(ct_tensor t, int64_t diagonal, int32_t upper, ct_tensor *out);
int ct_meshgrid(const ct_tensor *ts, int64_t n, ct_tensor *outs);

/* ---- linear algebra and neural-network kernels ------------------------------------------ */
int ct_matmul(ct_tensor a, ct_tensor b, ct_tensor *out);
int ct_linear(ct_tensor x, ct_tensor w, ct_tensor bias, ct_tensor *out);
int ct_conv2d(ct_tensor x, ct_tensor w, ct_tensor bias, const int64_t *stride, const int64_t *padding,
              const int64_t *dilation, int64_t groups, ct_tensor *out);
int ct_conv_transpose2d(ct_tensor x, ct_tensor w, ct_tensor bias, const int64_t *stride, const int64_t *padding,
                        const int64_t *output_padding, const int64_t *dilation, int64_t groups, ct_tensor *out);
int ct_max_pool2d(ct_tensor x, const int64_t *kernel, const int64_t *stride, const int64_t *padding,
                  const int64_t *dilation, int32_t ceil_mode, ct_tensor *out);
int ct_avg_pool2d(ct_tensor x, const int64_t *kernel, const int64_t *stride, const int64_t *padding, int32_t ceil_mode,
                  int32_t count_include_pad, ct_tensor *out);
/* kind 0: average, 1: max */
int ct_adaptive_pool2d(int32_t kind, ct_tensor x, const int64_t *output_size, ct_tensor *out);
/* mode 0: nearest, 1: bilinear, 2: bicubic, 3: nearest-exact. Either size (2) or scale (2) is given. */
int ct_interpolate(ct_tensor x, int32_t mode, const int64_t *size, const double *scale, int32_t align_corners,
                   ct_tensor *out);
int ct_batch_norm(ct_tensor x, ct_tensor weight, ct_tensor bias, ct_tensor running_mean, ct_tensor running_var,
                  int32_t training, double momentum, double eps, ct_tensor *out);
int ct_group_norm(ct_tensor x, int64_t groups, ct_tensor weight, ct_tensor bias, double eps, ct_tensor *out);
int ct_layer_norm(ct_tensor x, const int64_t *shape, int64_t ndim, ct_tensor weight, ct_tensor bias, double eps,
                  ct_tensor *out);
int ct_dropout(ct_tensor x, double p, int32_t training, ct_generator g, ct_tensor *out);
int ct_softmax(ct_tensor x, int64_t dim, int32_t log, ct_tensor *out);

/* ---- losses (reduction: 0 none, 1 mean, 2 sum) ------------------------------------------ */
int ct_cross_entropy(ct_tensor input, ct_tensor target, ct_tensor weight, int32_t reduction, int64_t ignore_index,
                     double label_smoothing, ct_tensor *out);
int ct_bce_with_logits(ct_tensor input, ct_tensor target, ct_tensor weight, ct_tensor pos_weight, int32_t reduction,
                       ct_tensor *out);
int ct_smooth_l1(ct_tensor input, ct_tensor target, int32_t reduction, double beta, ct_tensor *out);
int ct_l1_loss(ct_tensor input, ct_tensor target, int32_t reduction, ct_tensor *out);
int ct_mse_loss(ct_tensor input, ct_tensor target, int32_t reduction, ct_tensor *out);
int ct_nll_loss(ct_tensor input, ct_tensor target, ct_tensor weight, int32_t reduction, int64_t ignore_index,
                ct_tensor *out);

/* ---- autograd --------------------------------------------------------------------------- */
int ct_backward(ct_tensor t, ct_tensor grad, int32_t retain_graph);
/* *out is NULL when the tensor has no gradient. */
int ct_grad(ct_tensor t, ct_tensor *out);
int ct_set_grad(ct_tensor t, ct_tensor grad);
/* Gradients of `outputs` with respect to `inputs`; outs[i] is NULL where an input is unused. */
int ct_autograd_grad(const ct_tensor *outputs, int64_t noutputs, const ct_tensor *inputs, int64_t ninputs,
                     int32_t retain_graph, int32_t create_graph, ct_tensor *outs);

/* ---- detection kernels libtorch lacks ---------------------------------------------------- */
/* RoIAlign over NCHW features; rois [K, 5] = (batch index, x1, y1, x2, y2) in image coordinates.
   Differentiable with respect to the features. */
int ct_roi_align(ct_tensor input, ct_tensor rois, int64_t pooled_h, int64_t pooled_w, double spatial_scale,
                 int64_t sampling_ratio, int32_t aligned, ct_tensor *out);
/* Deformable convolution (torchvision's deform_conv2d): input [N, C, H, W], offset
   [N, 2·G·kh·kw, Ho, Wo] of (dy, dx) pairs per offset group G and kernel tap, mask
   [N, G·kh·kw, Ho, Wo] or null (v1), weight [O, C/groups, kh, kw], bias [O] or null; stride,
   padding and dilation are (h, w) pairs. Differentiable with respect to all five tensors. */
int ct_deform_conv2d(ct_tensor input, ct_tensor offset, ct_tensor mask, ct_tensor weight, ct_tensor bias,
                     const int64_t *stride, const int64_t *padding, const int64_t *dilation, int64_t groups,
                     ct_tensor *out);
/* Indices (int64) of the boxes [N, 4] (x1, y1, x2, y2) kept by greedy NMS, by decreasing score. */
int ct_nms(ct_tensor boxes, ct_tensor scores, double iou_threshold, ct_tensor *out);
/* NMS run separately within each group id [N] (int), kept indices sorted by decreasing score. */
int ct_batched_nms(ct_tensor boxes, ct_tensor scores, ct_tensor groups, double iou_threshold, ct_tensor *out);
/* Soft-NMS (Bodla et al. 2017) within each group id [N]: method 0 decays a box's score by
   (1 - IoU) once its IoU with a kept box reaches iou_threshold, method 1 by exp(-IoU^2 / sigma);
   boxes decayed below min_score are dropped. keep: kept indices (int64) by decreasing decayed
   score; kept_scores: those decayed scores, in the scores' dtype. */
int ct_soft_nms(ct_tensor boxes, ct_tensor scores, ct_tensor groups, int32_t method, double iou_threshold,
                double sigma, double min_score, ct_tensor *keep, ct_tensor *kept_scores);
/* Weighted NMS within each group id [N]: greedy NMS at iou_threshold whose kept boxes are
   replaced by the score-weighted mean of the boxes overlapping them by more than
   voting_threshold (themselves included). keep: kept indices by decreasing score; fused_boxes:
   [K, 4] in the boxes' dtype. */
int ct_weighted_nms(ct_tensor boxes, ct_tensor scores, ct_tensor groups, double iou_threshold, double voting_threshold,
                    ct_tensor *keep, ct_tensor *fused_boxes);

#ifdef __cplusplus
}
#endif

#endif
