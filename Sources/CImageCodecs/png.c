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

// Reads the header (size, stored channels and, with `depth`, bits per sample); with `pixels`,
// converts to `channels` and decodes into it, as 8-bit samples or, with `sixteen`, as 16-bit
// samples in the machine's byte order (lower depths scaled up, v * 257 for 8-bit files).
static int read_png(const uint8_t *data, size_t size, void *pixels, int sixteen, int *width, int *height, int *channels,
                    int *depth, char *message) {
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
    if (depth) *depth = png_get_color_type(png, info) == PNG_COLOR_TYPE_PALETTE ? 8 : png_get_bit_depth(png, info);
    png_destroy_read_struct(&png, &info, NULL);
    return CI_OK;
  }
  if (w != *width || h != *height) png_error(png, "PNG size differs from the buffer's");
  int wanted = *channels;
  int color = png_get_color_type(png, info);
  if (color == PNG_COLOR_TYPE_PALETTE) png_set_palette_to_rgb(png);
  if (color == PNG_COLOR_TYPE_GRAY && png_get_bit_depth(png, info) < 8) png_set_expand_gray_1_2_4_to_8(png);
  if (png_get_valid(png, info, PNG_INFO_tRNS)) png_set_tRNS_to_alpha(png);
  if (!sixteen && png_get_bit_depth(png, info) == 16) png_set_strip_16(png);  // the high byte, as Pillow keeps
  if (sixteen) {
    if (png_get_bit_depth(png, info) < 16) png_set_expand_16(png);
    // PNG stores 16-bit samples big-endian.
    const uint16_t probe = 1;
    if (*(const uint8_t *)&probe == 1) png_set_swap(png);
  }
  size_t sampleBytes = sixteen ? 2 : 1;
  int storedColor = stored >= 3;
  int storedAlpha = stored == 2 || stored == 4;
  int wantedColor = wanted >= 3;
  int wantedAlpha = wanted == 2 || wanted == 4;
  if (wantedColor && !storedColor) png_set_gray_to_rgb(png);
  if (!wantedColor && storedColor) png_set_rgb_to_gray_fixed(png, 1, -1, -1);
  if (wantedAlpha && !storedAlpha) png_set_add_alpha(png, sixteen ? 0xffff : 0xff, PNG_FILLER_AFTER);
  if (!wantedAlpha && storedAlpha) png_set_strip_alpha(png);
  png_set_interlace_handling(png);
  png_read_update_info(png, info);
  size_t rowBytes = (size_t)w * (size_t)wanted * sampleBytes;
  if (png_get_rowbytes(png, info) != rowBytes) png_error(png, "unexpected row layout after conversion");
  rows = malloc(sizeof(png_bytep) * (size_t)h);
  if (!rows) png_error(png, "out of memory");
  for (int y = 0; y < h; y++) rows[y] = (png_bytep)pixels + (size_t)y * rowBytes;
  png_read_image(png, rows);
  png_destroy_read_struct(&png, &info, NULL);
  free(rows);
  return CI_OK;
}

int ci_png_info(const uint8_t *data, size_t size, int *width, int *height, int *channels, char *message) {
  return read_png(data, size, NULL, 0, width, height, channels, NULL, message);
}

int ci_png_depth(const uint8_t *data, size_t size, int *depth, char *message) {
  int width = 0, height = 0, channels = 0;
  return read_png(data, size, NULL, 0, &width, &height, &channels, depth, message);
}

int ci_png_decode(const uint8_t *data, size_t size, uint8_t *pixels, int width, int height, int channels,
                  char *message) {
  if (channels < 1 || channels > 4) {
    set_message(message, "PNG decoding supports 1 to 4 channels");
    return CI_ERROR_ARGUMENT;
  }
  return read_png(data, size, pixels, 0, &width, &height, &channels, NULL, message);
}

int ci_png_decode16(const uint8_t *data, size_t size, uint16_t *samples, int width, int height, int channels,
                    char *message) {
  if (channels < 1 || channels > 4) {
    set_message(message, "PNG decoding supports 1 to 4 channels");
    return CI_ERROR_ARGUMENT;
  }
  return read_png(data, size, samples, 1, &width, &height, &channels, NULL, message);
}

typedef struct {
  uint8_t *data;
  size_t size;
  size_t capacity;
} memory_writer;

static void write_to_memory(png_structp png, png_bytep bytes, size_t count) {
  memory_writer *writer = (memory_writer *)png_get_io_ptr(png);
  if (count > writer->capacity - writer->size) {
    size_t capacity = writer->capacity * 2 + count;
    uint8_t *grown = realloc(writer->data, capacity);
    if (!grown) png_error(png, "out of memory");
    writer->data = grown;
    writer->capacity = capacity;
  }
  memcpy(writer->data + writer->size, bytes, count);
  writer->size += count;
}

static void flush_memory(png_structp png) { (void)png; }

// 16-bit samples go through the classic API: the simplified one treats them as linear light.
int ci_png_encode16(const uint16_t *samples, int width, int height, int channels, uint8_t **output, size_t *outputSize,
                    char *message) {
  static const int colorTypes[] = {PNG_COLOR_TYPE_GRAY, PNG_COLOR_TYPE_GRAY_ALPHA, PNG_COLOR_TYPE_RGB,
                                   PNG_COLOR_TYPE_RGB_ALPHA};
  if (channels < 1 || channels > 4 || width < 1 || height < 1) {
    set_message(message, "16-bit PNG encoding supports 1 to 4 channels and a non-empty image");
    return CI_ERROR_ARGUMENT;
  }
  png_structp png = png_create_write_struct(PNG_LIBPNG_VER_STRING, message, on_error, on_warning);
  if (!png) {
    set_message(message, "out of memory");
    return CI_ERROR_MEMORY;
  }
  png_infop info = png_create_info_struct(png);
  memory_writer writer = {NULL, 0, 0};
  png_bytep *volatile rows = NULL;
  if (!info || setjmp(png_jmpbuf(png))) {
    png_destroy_write_struct(&png, info ? &info : NULL);
    free(rows);
    free(writer.data);
    return CI_ERROR_CORRUPT;
  }
  png_set_write_fn(png, &writer, write_to_memory, flush_memory);
  png_set_IHDR(png, info, (png_uint_32)width, (png_uint_32)height, 16, colorTypes[channels - 1], PNG_INTERLACE_NONE,
               PNG_COMPRESSION_TYPE_DEFAULT, PNG_FILTER_TYPE_DEFAULT);
  png_write_info(png, info);
  const uint16_t probe = 1;
  if (*(const uint8_t *)&probe == 1) png_set_swap(png);
  rows = malloc(sizeof(png_bytep) * (size_t)height);
  if (!rows) png_error(png, "out of memory");
  size_t rowBytes = (size_t)width * (size_t)channels * 2;
  for (int y = 0; y < height; y++) rows[y] = (png_bytep)((const uint8_t *)samples + (size_t)y * rowBytes);
  png_write_image(png, rows);
  png_write_end(png, NULL);
  png_destroy_write_struct(&png, &info);
  free(rows);
  *output = writer.data;
  *outputSize = writer.size;
  return CI_OK;
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
