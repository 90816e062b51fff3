# Installs the plugin SDK (header, C++ helper, CMake package) and the
# compass executable with its plugin folder.
include(CMakePackageConfigHelpers)

install(DIRECTORY core/include/compass DESTINATION ${CMAKE_INSTALL_INCLUDEDIR})
install(TARGETS compass_plugin_sdk EXPORT CompassTargets)
install(EXPORT CompassTargets NAMESPACE Compass:: DESTINATION ${CMAKE_INSTALL_LIBDIR}/cmake/Compass)

configure_package_config_file(cmake/CompassConfig.cmake.in
  "${CMAKE_CURRENT_BINARY_DIR}/CompassConfig.cmake"
  INSTALL_DESTINATION ${CMAKE_INSTALL_LIBDIR}/cmake/Compass
  PATH_VARS COMPASS_PLUGIN_INSTALL_DIR)
write_basic_package_version_file("${CMAKE_CURRENT_BINARY_DIR}/CompassConfigVersion.cmake"
  VERSION ${PROJECT_VERSION} COMPATIBILITY SameMajorVersion)
install(FILES
  "${CMAKE_CURRENT_BINARY_DIR}/CompassConfig.cmake"
  "${CMAKE_CURRENT_BINARY_DIR}/CompassConfigVersion.cmake"
  cmake/CompassPlugin.cmake
  cmake/plugin_exports.map
  DESTINATION ${CMAKE_INSTALL_LIBDIR}/cmake/Compass)
