# Sanitizer and fuzzing builds (see README.md, "Fuzzing and sanitizers").
#
#   COMPASS_SANITIZE=address,undefined  every target compiled and linked with
#                                       these sanitizers (clang or gcc); any
#                                       finding aborts the process
#   COMPASS_FUZZ=ON                     the libFuzzer targets of fuzz/ (clang
#                                       only: libFuzzer ships with it), with
#                                       the code they reach instrumented for
#                                       coverage; implies address,undefined
#                                       unless COMPASS_SANITIZE says otherwise
set(COMPASS_SANITIZE "" CACHE STRING "Sanitizers for every target, e.g. address,undefined")
option(COMPASS_FUZZ "Build the libFuzzer targets in fuzz/ (needs clang)" OFF)

if(COMPASS_FUZZ)
  if(NOT CMAKE_CXX_COMPILER_ID STREQUAL "Clang")
    message(FATAL_ERROR "COMPASS_FUZZ=ON needs clang (libFuzzer is part of it): configure with "
      "-DCMAKE_C_COMPILER=clang -DCMAKE_CXX_COMPILER=clang++, or use scripts/fuzz.sh")
  endif()
  if(NOT COMPASS_SANITIZE)
    set(COMPASS_SANITIZE "address,undefined")
  endif()
  # Coverage feedback in every library a fuzz target links; the targets
  # themselves add -fsanitize=fuzzer (libFuzzer's main) at link time.
  add_compile_options(-fsanitize=fuzzer-no-link)
endif()

if(COMPASS_SANITIZE)
  message(STATUS "Compass: sanitizers ${COMPASS_SANITIZE}")
  # -fno-sanitize-recover: an undefined-behaviour report fails the test that
  # triggered it instead of scrolling past. _GLIBCXX_ASSERTIONS adds the
  # standard library's own bounds checks (operator[] past size() but within
  # capacity is invisible to ASan).
  add_compile_options(-fsanitize=${COMPASS_SANITIZE} -fno-sanitize-recover=all
    -fno-omit-frame-pointer -D_GLIBCXX_ASSERTIONS)
  add_link_options(-fsanitize=${COMPASS_SANITIZE})
endif()
