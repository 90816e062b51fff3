// A structural check of a shared library file before dlopen. dlopen maps a
// file's segments without checking that the file holds them: a truncated
// .so (an interrupted copy or build) kills the process with SIGBUS the
// moment the loader touches a missing page, during discovery of plugins a
// run never uses. Checking that every segment and table the header names
// lies inside the file turns that into a refusal.
//
// Thread-safe; reads the file, never maps it.
#ifndef COMPASS_PLUGIN_HOST_ELF_CHECK_H_
#define COMPASS_PLUGIN_HOST_ELF_CHECK_H_

#include <string>

#include "util/status.h"

namespace compass {

// OK when `path` is a 64-bit ELF shared object for this machine whose
// program headers, loadable segments, dynamic section and section headers
// all lie inside the file. Otherwise InvalidArgument saying what is wrong
// (not ELF, another architecture, truncated at N of M bytes), or IoError.
Status CheckSharedObject(const std::string& path);

}  // namespace compass

#endif  // COMPASS_PLUGIN_HOST_ELF_CHECK_H_
