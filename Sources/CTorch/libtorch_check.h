// Included first by every translation unit of the shim, so that a build without libtorch's headers
// on the include path starts with one line that says what to do.
#pragma once

#if !__has_include(<ATen/ATen.h>)
#error "SimpleDet: libtorch not found; run scripts/bootstrap.sh in SimpleDet's checkout (e.g. .build/checkouts/simpledet) and add its .deps/pkgconfig to PKG_CONFIG_PATH (README: Use SimpleDet from your own package)"
#endif
