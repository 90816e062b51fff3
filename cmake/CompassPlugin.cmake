# Every symbol of shared library `target` resolved at link time, except in
# sanitizer builds, where clang leaves the sanitizer runtime to the
# executable that loads the library.
function(compass_link_no_undefined target)
  if(NOT COMPASS_SANITIZE)
    target_link_options(${target} PRIVATE "LINKER:--no-undefined")
  endif()
endfunction()

# compass_add_plugin(<target> SOURCES <files...> [LIBRARIES <libs...>])
#
# Builds a plugin as a MODULE library with hidden visibility that exports
# nothing but its compass_*_plugin entry symbols, into the plugin folder of
# the build tree, and installs it into the plugin folder of the install.
set(COMPASS_PLUGIN_EXPORTS_MAP "${CMAKE_CURRENT_LIST_DIR}/plugin_exports.map")

function(compass_add_plugin target)
  cmake_parse_arguments(ARG "" "" "SOURCES;LIBRARIES" ${ARGN})
  add_library(${target} MODULE ${ARG_SOURCES})
  target_link_libraries(${target} PRIVATE Compass::plugin_sdk ${ARG_LIBRARIES})
  set_target_properties(${target} PROPERTIES
    CXX_VISIBILITY_PRESET hidden
    VISIBILITY_INLINES_HIDDEN ON
    PREFIX "lib"
    LIBRARY_OUTPUT_DIRECTORY "${COMPASS_PLUGIN_OUTPUT_DIR}"
    # An installed plugin still finds the shared libraries it was linked
    # with outside the build tree (libtorch in its venv).
    INSTALL_RPATH_USE_LINK_PATH TRUE)
  target_link_options(${target} PRIVATE "LINKER:--version-script=${COMPASS_PLUGIN_EXPORTS_MAP}")
  compass_link_no_undefined(${target})
  install(TARGETS ${target} LIBRARY DESTINATION "${COMPASS_PLUGIN_INSTALL_DIR}")
endfunction()
