/*
 * benchmark_reference.h: the same computations as the Swift benchmarks, written directly
 * against ATen in C++, so that a run can time both in one process and report Swift's overhead.
 *
 * Conventions
 * - Timing functions return seconds per iteration (wall clock, steady clock), or a negative
 *   number on failure with the message in `bref_last_error()`. No C++ exception leaves here.
 * - Handles are created with `*_new`, used from one thread, and released with `*_free`.
 * - Threads are libtorch's one global setting: `Torch.threadCount` on the Swift side sets it.
 */
#ifndef BENCHMARK_REFERENCE_H
#define BENCHMARK_REFERENCE_H

#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

typedef struct bref_conv_impl *bref_conv;
typedef struct bref_resnet_impl *bref_resnet;

/* The message of the last failure on this thread. */
const char *bref_last_error(void);
/* at::get_num_threads(), read from this library, to confirm both sides share the setting. */
int32_t bref_num_threads(void);

/* Minor page faults of the whole process so far (getrusage). */
int64_t bref_minor_page_faults(void);
/* Fixes glibc malloc's mmap threshold (at 32 MiB, the top of its dynamic range, above every block
 * these cases allocate; fixing it also stops it moving; glibc 2.36 accepts larger values) and
 * trim threshold (1 GiB), so large blocks are reused rather than mapped and unmapped every step.
 * Returns 0 on success. */
int32_t bref_pin_malloc_thresholds(void);

/* ---- one convolution, forward + backward --------------------------------------------------
 * Input [batch, in_channels, size, size] (requiring grad when input_requires_grad is non-zero,
 * as every conv but a network's first does), weight [out_channels, in_channels, kernel, kernel]
 * (requires grad), no bias, dilation 1, groups 1. One iteration: clear both gradients (set to
 * undefined), y = conv2d(x, w), y.sum().backward(). */
bref_conv bref_conv_new(int64_t batch, int64_t in_channels, int64_t out_channels, int64_t size, int64_t kernel,
                        int64_t stride, int64_t padding, int32_t input_requires_grad, uint64_t seed);
double bref_conv_run(bref_conv c, int32_t iterations);
void bref_conv_free(bref_conv c);
/* Builds, runs `warmup` iterations untimed, times `iterations`, frees. */
double bref_conv_step(int64_t batch, int64_t in_channels, int64_t out_channels, int64_t size, int64_t kernel,
                      int64_t stride, int64_t padding, int32_t input_requires_grad, int32_t iterations,
                      int32_t warmup);

/* ---- ResNet-50 training step, forward + backward --------------------------------------------
 * torchvision's resnet50 (Bottleneck [3, 4, 6, 3], stride on the 3x3 conv, BatchNorm2d in
 * training mode with running statistics and num_batches_tracked updated, out-of-place ReLU and
 * residual add), input [batch, 3, size, size], 1000 classes. One iteration: clear every
 * parameter's gradient (set to undefined), logits = model(x), cross_entropy(logits, targets)
 * with mean reduction, backward(). */
bref_resnet bref_resnet50_new(int32_t batch, int32_t size, uint64_t seed);
double bref_resnet50_run(bref_resnet r, int32_t iterations);
/* The loss of the last iteration (a sanity check that the step really ran). */
double bref_resnet50_last_loss(bref_resnet r);
/* Number of trainable parameter elements (25,557,032 for torchvision's resnet50). */
int64_t bref_resnet50_parameter_count(bref_resnet r);
/* Number of trainable parameter tensors (161 for torchvision's resnet50). */
int64_t bref_resnet50_parameter_tensors(bref_resnet r);
void bref_resnet50_free(bref_resnet r);
/* Builds, runs `warmup` iterations untimed, times `iterations`, frees. */
double bref_resnet50_step(int32_t batch, int32_t size, int32_t iterations, int32_t warmup);

#ifdef __cplusplus
}
#endif

#endif
