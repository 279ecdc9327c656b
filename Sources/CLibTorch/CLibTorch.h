// The module map needs a header; libtorch's own headers are C++ and are included by the shim only.
#ifndef SIMPLEDET_CLIBTORCH_H
#define SIMPLEDET_CLIBTORCH_H
#endif
