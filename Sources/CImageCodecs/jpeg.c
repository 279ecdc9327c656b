#include "cimagecodecs.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <turbojpeg.h>

// A TurboJPEG handle costs a few allocations; loader workers decode thousands of images, so each
// thread keeps one per direction for its lifetime.
static _Thread_local tjhandle decompressor = NULL;
static _Thread_local tjhandle compressor = NULL;

static void set_message(char *message, const char *text) {
  if (message) snprintf(message, CI_MESSAGE_CAPACITY, "%s", text);
}

// After a failure a handle may be left mid-decode (libjpeg's longjmp recovery does not always
// reset it), and the next stream then fails with a stale marker error: start afresh instead.
static int discard_decompressor(int status) {
  if (decompressor) tjDestroy(decompressor);
  decompressor = NULL;
  return status;
}

static tjhandle get_decompressor(char *message) {
  if (!decompressor) decompressor = tjInitDecompress();
  if (!decompressor) set_message(message, tjGetErrorStr2(NULL));
  return decompressor;
}

int ci_jpeg_info(const uint8_t *data, size_t size, int *width, int *height, int *channels, char *message) {
  tjhandle handle = get_decompressor(message);
  if (!handle) return CI_ERROR_MEMORY;
  int subsampling = 0, colorspace = 0;
  if (size > (size_t)0xffffffffu) {
    set_message(message, "JPEG stream larger than 4 GiB");
    return CI_ERROR_ARGUMENT;
  }
  if (tjDecompressHeader3(handle, data, (unsigned long)size, width, height, &subsampling, &colorspace) != 0) {
    set_message(message, tjGetErrorStr2(handle));
    return discard_decompressor(CI_ERROR_CORRUPT);
  }
  *channels = colorspace == TJCS_GRAY ? 1 : 3;
  return CI_OK;
}

void ci_jpeg_scaled_size(int width, int height, int minWidth, int minHeight, int *scaledWidth, int *scaledHeight) {
  int count = 0;
  tjscalingfactor *factors = tjGetScalingFactors(&count);
  *scaledWidth = width;
  *scaledHeight = height;
  for (int i = 0; factors && i < count; i++) {
    if (factors[i].num > factors[i].denom) continue;  // no upscaling in the DCT
    int w = TJSCALED(width, factors[i]);
    int h = TJSCALED(height, factors[i]);
    if (w >= minWidth && h >= minHeight && w < *scaledWidth) {
      *scaledWidth = w;
      *scaledHeight = h;
    }
  }
}

int ci_jpeg_decode(const uint8_t *data, size_t size, uint8_t *pixels, int scaledWidth, int scaledHeight,
                   int channels, char *message) {
  if (channels != 1 && channels != 3) {
    set_message(message, "JPEG decoding supports 1 or 3 channels");
    return CI_ERROR_ARGUMENT;
  }
  tjhandle handle = get_decompressor(message);
  if (!handle) return CI_ERROR_MEMORY;
  int format = channels == 1 ? TJPF_GRAY : TJPF_RGB;
  // TJFLAG_STOPONWARNING: a truncated file is otherwise "decoded" with gray filling the rest.
  int flags = TJFLAG_STOPONWARNING;
  if (tjDecompress2(handle, data, (unsigned long)size, pixels, scaledWidth, 0, scaledHeight, format, flags) != 0) {
    set_message(message, tjGetErrorStr2(handle));
    return discard_decompressor(CI_ERROR_CORRUPT);
  }
  return CI_OK;
}

int ci_jpeg_encode(const uint8_t *pixels, int width, int height, int channels, int quality, uint8_t **output,
                   size_t *outputSize, char *message) {
  int format;
  switch (channels) {
  case 1: format = TJPF_GRAY; break;
  case 3: format = TJPF_RGB; break;
  case 4: format = TJPF_RGBX; break;  // JPEG has no alpha: it is dropped
  default:
    set_message(message, "JPEG encoding supports 1, 3 or 4 channels");
    return CI_ERROR_ARGUMENT;
  }
  if (!compressor) compressor = tjInitCompress();
  if (!compressor) {
    set_message(message, tjGetErrorStr2(NULL));
    return CI_ERROR_MEMORY;
  }
  unsigned char *buffer = NULL;
  unsigned long length = 0;
  int subsampling = channels == 1 ? TJSAMP_GRAY : TJSAMP_420;
  if (tjCompress2(compressor, pixels, width, 0, height, format, &buffer, &length, subsampling, quality,
                  TJFLAG_ACCURATEDCT) != 0) {
    set_message(message, tjGetErrorStr2(compressor));
    tjFree(buffer);
    tjDestroy(compressor);
    compressor = NULL;
    return CI_ERROR_CORRUPT;
  }
  // Hand back a malloc'd copy so that callers free every codec buffer the same way.
  *output = malloc(length);
  if (!*output) {
    tjFree(buffer);
    set_message(message, "out of memory");
    return CI_ERROR_MEMORY;
  }
  memcpy(*output, buffer, length);
  *outputSize = length;
  tjFree(buffer);
  return CI_OK;
}

void ci_free(void *pointer) { free(pointer); }
