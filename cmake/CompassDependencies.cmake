# Third-party libraries. Each one is there for a reason written in README.md.
find_package(tomlplusplus REQUIRED)       # eval.toml parsing with line/column
find_package(spdlog REQUIRED)             # logging
find_package(CLI11 REQUIRED)              # command line
find_package(nlohmann_json REQUIRED)      # JSON output, options passed to plugins
find_package(Boost 1.74 REQUIRED)         # Boost.DLL (header-only) plugin loading
find_package(SQLite3 REQUIRED)            # results store
find_package(PkgConfig REQUIRED)
pkg_check_modules(PCRE2 REQUIRED IMPORTED_TARGET libpcre2-8)  # Unicode regex: tokenizers, scorers, templates
find_package(ICU REQUIRED COMPONENTS uc)  # Unicode normalization (NFC...) for tokenizers
find_package(yaml-cpp REQUIRED)           # lm-evaluation-harness task files (jsonl dataset)
if(COMPASS_BUILD_TESTS)
  find_package(GTest REQUIRED)
endif()


# libtorch comes from the PyPI torch wheel in the project venv. CMake finds it
# through that venv's python when Torch_DIR / CMAKE_PREFIX_PATH do not.
set(COMPASS_PYTHON "" CACHE FILEPATH "Python of the venv holding the torch wheel")
if(NOT Torch_DIR)
  if(NOT COMPASS_PYTHON AND DEFINED ENV{COMPASS_VENV})
    set(COMPASS_PYTHON "$ENV{COMPASS_VENV}/bin/python")
  endif()
  if(COMPASS_PYTHON AND EXISTS "${COMPASS_PYTHON}")
    execute_process(
      COMMAND "${COMPASS_PYTHON}" -c "import torch.utils; print(torch.utils.cmake_prefix_path)"
      OUTPUT_VARIABLE _compass_torch_prefix OUTPUT_STRIP_TRAILING_WHITESPACE
      RESULT_VARIABLE _compass_torch_rc ERROR_QUIET)
    if(_compass_torch_rc EQUAL 0)
      list(APPEND CMAKE_PREFIX_PATH "${_compass_torch_prefix}")
    endif()
  endif()
endif()
# Torch's CUDA set-up probes the local GPU unless given an architecture list;
# there may be no GPU where we build, so name the targets.
if(NOT DEFINED ENV{TORCH_CUDA_ARCH_LIST})
  set(ENV{TORCH_CUDA_ARCH_LIST} "8.0;8.6;8.9;9.0")
endif()
set(CMAKE_CUDA_STANDARD 17)
find_package(Torch CONFIG QUIET)
if(Torch_FOUND)
  message(STATUS "Compass: libtorch ${Torch_VERSION} from ${Torch_DIR}")
else()
  message(STATUS "Compass: libtorch not found (run scripts/setup.sh, or pass -DCOMPASS_PYTHON=<venv>/bin/python)")
endif()

# CUDA and NCCL are optional: the CUDA parts build wherever the toolkit is
# installed (no GPU needed to compile) and are skipped otherwise.
option(COMPASS_WITH_CUDA "Build CUDA parts when the CUDA toolkit is found" ON)
set(COMPASS_HAVE_CUDA OFF)
set(COMPASS_HAVE_NCCL OFF)
if(COMPASS_WITH_CUDA)
  find_package(CUDAToolkit QUIET)
  if(CUDAToolkit_FOUND)
    set(COMPASS_HAVE_CUDA ON)
    # The torch wheel's own NCCL (nvidia/nccl beside torch/) first: libtorch
    # loads it, so it is the one a process ends up using.
    set(_compass_nccl_hints)
    if(_compass_torch_prefix)
      set(_compass_nccl_hints "${_compass_torch_prefix}/../../../nvidia/nccl")
    endif()
    find_library(COMPASS_NCCL_LIBRARY NAMES nccl libnccl.so.2
                 HINTS ${_compass_nccl_hints} ${CUDAToolkit_LIBRARY_DIR} PATH_SUFFIXES lib)
    find_path(COMPASS_NCCL_INCLUDE_DIR nccl.h
              HINTS ${_compass_nccl_hints} ${CUDAToolkit_INCLUDE_DIRS} PATH_SUFFIXES include)
    if(COMPASS_NCCL_LIBRARY AND COMPASS_NCCL_INCLUDE_DIR)
      set(COMPASS_HAVE_NCCL ON)
      add_library(compass_nccl INTERFACE)
      target_link_libraries(compass_nccl INTERFACE ${COMPASS_NCCL_LIBRARY})
      target_include_directories(compass_nccl INTERFACE ${COMPASS_NCCL_INCLUDE_DIR})
    endif()
  endif()
endif()
message(STATUS "Compass: CUDA ${COMPASS_HAVE_CUDA} (toolkit ${CUDAToolkit_VERSION}), NCCL ${COMPASS_HAVE_NCCL}")
