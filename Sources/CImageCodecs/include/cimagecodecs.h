// A plain C interface over TurboJPEG and libpng for SimpleDet's Data module.
// Every function returns 0 on success and a negative status on failure, with a message in the
// caller's buffer: libpng's longjmp-based error handling and TurboJPEG's handles never reach Swift.
#ifndef CIMAGECODECS_H
#define CIMAGECODECS_H

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

enum {
  CI_OK = 0,
  CI_ERROR_CORRUPT = -1,   // the codec rejected the data (truncated, corrupt, unsupported)
  CI_ERROR_ARGUMENT = -2,  // a bad request from the caller (channel count, buffer size)
  CI_ERROR_MEMORY = -3,
};

enum { CI_MESSAGE_CAPACITY = 256 };

/// Size and colour layout of a JPEG stream, without decoding it.
/// `channels` is 1 for grayscale files and 3 otherwise (CMYK files are converted to RGB).
int ci_jpeg_info(const uint8_t *data, size_t size, int *width, int *height, int *channels, char *message);

/// The smallest size TurboJPEG can decode to directly (a scaling factor num/denom <= 1 applied in
/// the DCT, much cheaper than decoding in full and resizing) that still covers
/// `minWidth` x `minHeight`; the full size when no factor does.
void ci_jpeg_scaled_size(int width, int height, int minWidth, int minHeight, int *scaledWidth, int *scaledHeight);

/// Decodes into `pixels` (scaledWidth * scaledHeight * channels bytes, rows packed), `channels`
/// 1 (gray) or 3 (RGB). `scaledWidth`/`scaledHeight` are a size from `ci_jpeg_scaled_size`, or the
/// full size. Warnings (a truncated stream) are errors.
int ci_jpeg_decode(const uint8_t *data, size_t size, uint8_t *pixels, int scaledWidth, int scaledHeight,
                   int channels, char *message);

/// Encodes packed 8-bit pixels (1, 3 or 4 channels) at `quality` 1...100 with 4:2:0 chroma.
/// On success `*output` is a buffer to free with `ci_free`.
int ci_jpeg_encode(const uint8_t *pixels, int width, int height, int channels, int quality, uint8_t **output,
                   size_t *outputSize, char *message);

/// Size and channel count (1 gray, 2 gray+alpha, 3 RGB, 4 RGBA) of a PNG stream.
int ci_png_info(const uint8_t *data, size_t size, int *width, int *height, int *channels, char *message);

/// Decodes into `pixels` (width * height * channels bytes), converting to `channels` 1, 2, 3 or 4
/// whatever the file holds (palette, 16-bit and low bit depths included).
int ci_png_decode(const uint8_t *data, size_t size, uint8_t *pixels, int width, int height, int channels,
                  char *message);

/// The bits per sample a PNG stream stores (1, 2, 4, 8 or 16; 8 for palette images).
int ci_png_depth(const uint8_t *data, size_t size, int *depth, char *message);

/// Decodes into `samples` (width * height * channels 16-bit values in the machine's byte order),
/// converting to `channels` 1, 2, 3 or 4 as `ci_png_decode` does; 16-bit files keep every bit,
/// lower depths are scaled up to 16 bits (an 8-bit value v becomes v * 257).
int ci_png_decode16(const uint8_t *data, size_t size, uint16_t *samples, int width, int height, int channels,
                    char *message);

/// Encodes packed 16-bit samples (machine byte order; 1, 2, 3 or 4 channels) as a 16-bit PNG.
/// `*output` is freed with `ci_free`.
int ci_png_encode16(const uint16_t *samples, int width, int height, int channels, uint8_t **output,
                    size_t *outputSize, char *message);

/// Encodes packed 8-bit pixels (1, 2, 3 or 4 channels). `*output` is freed with `ci_free`.
int ci_png_encode(const uint8_t *pixels, int width, int height, int channels, uint8_t **output, size_t *outputSize,
                  char *message);

void ci_free(void *pointer);

#ifdef __cplusplus
}
#endif

#endif
