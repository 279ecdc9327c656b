#include "cimagecodecs.h"

#include <png.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

// libpng's simplified API (1.6) does its setjmp/longjmp error handling internally and reports
// failures in `image.message`, so no longjmp can cross a Swift frame.

static void set_message(char *message, const char *prefix, const char *text) {
  if (message) snprintf(message, CI_MESSAGE_CAPACITY, "%s%s", prefix, text);
}

static png_uint_32 format_for(int channels) {
  switch (channels) {
  case 1: return PNG_FORMAT_GRAY;
  case 2: return PNG_FORMAT_GA;
  case 3: return PNG_FORMAT_RGB;
  case 4: return PNG_FORMAT_RGBA;
  default: return 0xffffffffu;
  }
}

int ci_png_info(const uint8_t *data, size_t size, int *width, int *height, int *channels, char *message) {
  png_image image;
  memset(&image, 0, sizeof image);
  image.version = PNG_IMAGE_VERSION;
  if (!png_image_begin_read_from_memory(&image, data, size)) {
    set_message(message, "", image.message);
    png_image_free(&image);
    return CI_ERROR_CORRUPT;
  }
  *width = (int)image.width;
  *height = (int)image.height;
  int color = (image.format & PNG_FORMAT_FLAG_COLOR) != 0;
  int alpha = (image.format & PNG_FORMAT_FLAG_ALPHA) != 0;
  *channels = (color ? 3 : 1) + (alpha ? 1 : 0);
  png_image_free(&image);
  return CI_OK;
}

int ci_png_decode(const uint8_t *data, size_t size, uint8_t *pixels, int width, int height, int channels,
                  char *message) {
  png_uint_32 format = format_for(channels);
  if (format == 0xffffffffu) {
    set_message(message, "", "PNG decoding supports 1 to 4 channels");
    return CI_ERROR_ARGUMENT;
  }
  png_image image;
  memset(&image, 0, sizeof image);
  image.version = PNG_IMAGE_VERSION;
  if (!png_image_begin_read_from_memory(&image, data, size)) {
    set_message(message, "", image.message);
    png_image_free(&image);
    return CI_ERROR_CORRUPT;
  }
  if ((int)image.width != width || (int)image.height != height) {
    png_image_free(&image);
    set_message(message, "", "PNG size differs from the buffer's");
    return CI_ERROR_ARGUMENT;
  }
  image.format = format;
  // Without a background, removing alpha composites on black; gray+alpha and RGBA keep it.
  if (!png_image_finish_read(&image, NULL, pixels, 0, NULL)) {
    set_message(message, "", image.message);
    png_image_free(&image);
    return CI_ERROR_CORRUPT;
  }
  // A warning (a bad CRC, trailing garbage after a complete image) still gives a complete image:
  // libpng treats those as benign, and so do we.
  return CI_OK;
}

int ci_png_encode(const uint8_t *pixels, int width, int height, int channels, uint8_t **output, size_t *outputSize,
                  char *message) {
  png_uint_32 format = format_for(channels);
  if (format == 0xffffffffu) {
    set_message(message, "", "PNG encoding supports 1 to 4 channels");
    return CI_ERROR_ARGUMENT;
  }
  png_image image;
  memset(&image, 0, sizeof image);
  image.version = PNG_IMAGE_VERSION;
  image.width = (png_uint_32)width;
  image.height = (png_uint_32)height;
  image.format = format;
  png_alloc_size_t length = 0;
  // The first call measures, the second writes.
  if (!png_image_write_to_memory(&image, NULL, &length, 0, pixels, 0, NULL)) {
    set_message(message, "", image.message);
    png_image_free(&image);
    return CI_ERROR_CORRUPT;
  }
  uint8_t *buffer = malloc(length);
  if (!buffer) {
    set_message(message, "", "out of memory");
    return CI_ERROR_MEMORY;
  }
  if (!png_image_write_to_memory(&image, buffer, &length, 0, pixels, 0, NULL)) {
    set_message(message, "", image.message);
    png_image_free(&image);
    free(buffer);
    return CI_ERROR_CORRUPT;
  }
  *output = buffer;
  *outputSize = length;
  return CI_OK;
}
