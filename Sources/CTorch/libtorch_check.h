// Included first by every translation unit of the shim, so that a build without libtorch's headers
// on the include path starts with one line that says what to do.
#pragma once

#if !__has_include(<ATen/ATen.h>)
#error "SimpleDet: libtorch not found: run scripts/bootstrap.sh (from a depending package: .build/checkouts/simpledet/scripts/bootstrap.sh, then put that checkout's .deps/pkgconfig on PKG_CONFIG_PATH; see README, Use SimpleDet from your own package)"
#endif
