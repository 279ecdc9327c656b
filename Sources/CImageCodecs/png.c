#include "cimagecodecs.h"

#include <png.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

// Decoding uses libpng's classic API, whose errors longjmp back to the setjmp in the same C
// function, so no longjmp crosses a Swift frame. (The simplified API would be shorter, but it
// treats 16-bit files as linear light and gamma-encodes them on the way to 8 bits.)
// Encoding 8-bit data uses the simplified API, which writes the bytes unchanged.

typedef struct {
  const uint8_t *data;
  size_t size;
  size_t offset;
} memory_reader;

static void read_from_memory(png_structp png, png_bytep out, size_t count) {
  memory_reader *reader = (memory_reader *)png_get_io_ptr(png);
  if (count > reader->size - reader->offset) png_error(png, "unexpected end of data (truncated PNG)");
  memcpy(out, reader->data + reader->offset, count);
  reader->offset += count;
}

static void on_error(png_structp png, png_const_charp text) {
  char *message = (char *)png_get_error_ptr(png);
  if (message) snprintf(message, CI_MESSAGE_CAPACITY, "%s", text);
  png_longjmp(png, 1);
}

// Benign problems (an unknown chunk's CRC, a bad sRGB profile) do not make the pixels wrong.
static void on_warning(png_structp png, png_const_charp text) {
  (void)png;
  (void)text;
}

static void set_message(char *message, const char *text) {
  if (message) snprintf(message, CI_MESSAGE_CAPACITY, "%s", text);
}

static int stored_channels(png_structp png, png_infop info) {
  int color = png_get_color_type(png, info);
  int transparency = png_get_valid(png, info, PNG_INFO_tRNS) != 0;
  switch (color) {
  case PNG_COLOR_TYPE_GRAY: return transparency ? 2 : 1;
  case PNG_COLOR_TYPE_GRAY_ALPHA: return 2;
  case PNG_COLOR_TYPE_PALETTE: return transparency ? 4 : 3;
  case PNG_COLOR_TYPE_RGB: return transparency ? 4 : 3;
  default: return 4;
  }
}

// Reads the header; with `pixels`, converts to `channels` and decodes into it.
static int read_png(const uint8_t *data, size_t size, uint8_t *pixels, int *width, int *height, int *channels,
                    char *message) {
  if (size < 8 || png_sig_cmp(data, 0, 8) != 0) {
    set_message(message, "not a PNG file");
    return CI_ERROR_CORRUPT;
  }
  png_structp png = png_create_read_struct(PNG_LIBPNG_VER_STRING, message, on_error, on_warning);
  if (!png) {
    set_message(message, "out of memory");
    return CI_ERROR_MEMORY;
  }
  png_infop info = png_create_info_struct(png);
  png_bytep *volatile rows = NULL;
  if (!info || setjmp(png_jmpbuf(png))) {
    png_destroy_read_struct(&png, info ? &info : NULL, NULL);
    free(rows);
    return CI_ERROR_CORRUPT;
  }
  memory_reader reader = {data, size, 0};
  png_set_read_fn(png, &reader, read_from_memory);
  png_read_info(png, info);
  int w = (int)png_get_image_width(png, info);
  int h = (int)png_get_image_height(png, info);
  int stored = stored_channels(png, info);
  if (!pixels) {
    *width = w;
    *height = h;
    *channels = stored;
    png_destroy_read_struct(&png, &info, NULL);
    return CI_OK;
  }
  if (w != *width || h != *height) png_error(png, "PNG size differs from the buffer's");
  int wanted = *channels;
  int color = png_get_color_type(png, info);
  if (color == PNG_COLOR_TYPE_PALETTE) png_set_palette_to_rgb(png);
  if (color == PNG_COLOR_TYPE_GRAY && png_get_bit_depth(png, info) < 8) png_set_expand_gray_1_2_4_to_8(png);
  if (png_get_valid(png, info, PNG_INFO_tRNS)) png_set_tRNS_to_alpha(png);
  if (png_get_bit_depth(png, info) == 16) png_set_strip_16(png);  // the high byte, as Pillow keeps
  int storedColor = stored >= 3;
  int storedAlpha = stored == 2 || stored == 4;
  int wantedColor = wanted >= 3;
  int wantedAlpha = wanted == 2 || wanted == 4;
  if (wantedColor && !storedColor) png_set_gray_to_rgb(png);
  if (!wantedColor && storedColor) png_set_rgb_to_gray_fixed(png, 1, -1, -1);
  if (wantedAlpha && !storedAlpha) png_set_add_alpha(png, 0xff, PNG_FILLER_AFTER);
  if (!wantedAlpha && storedAlpha) png_set_strip_alpha(png);
  png_set_interlace_handling(png);
  png_read_update_info(png, info);
  if (png_get_rowbytes(png, info) != (size_t)w * (size_t)wanted) png_error(png, "unexpected row layout after conversion");
  rows = malloc(sizeof(png_bytep) * (size_t)h);
  if (!rows) png_error(png, "out of memory");
  for (int y = 0; y < h; y++) rows[y] = pixels + (size_t)y * (size_t)w * (size_t)wanted;
  png_read_image(png, rows);
  png_destroy_read_struct(&png, &info, NULL);
  free(rows);
  return CI_OK;
}

int ci_png_info(const uint8_t *data, size_t size, int *width, int *height, int *channels, char *message) {
  return read_png(data, size, NULL, width, height, channels, message);
}

int ci_png_decode(const uint8_t *data, size_t size, uint8_t *pixels, int width, int height, int channels,
                  char *message) {
  if (channels < 1 || channels > 4) {
    set_message(message, "PNG decoding supports 1 to 4 channels");
    return CI_ERROR_ARGUMENT;
  }
  return read_png(data, size, pixels, &width, &height, &channels, message);
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

int ci_png_encode(const uint8_t *pixels, int width, int height, int channels, uint8_t **output, size_t *outputSize,
                  char *message) {
  png_uint_32 format = format_for(channels);
  if (format == 0xffffffffu) {
    set_message(message, "PNG encoding supports 1 to 4 channels");
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
    set_message(message, image.message);
    png_image_free(&image);
    return CI_ERROR_CORRUPT;
  }
  uint8_t *buffer = malloc(length);
  if (!buffer) {
    set_message(message, "out of memory");
    return CI_ERROR_MEMORY;
  }
  if (!png_image_write_to_memory(&image, buffer, &length, 0, pixels, 0, NULL)) {
    set_message(message, image.message);
    png_image_free(&image);
    free(buffer);
    return CI_ERROR_CORRUPT;
  }
  *output = buffer;
  *outputSize = length;
  return CI_OK;
}
