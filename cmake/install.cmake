# Installs the C++ core as a CMake package: find_package(rnnkit CONFIG) + rnnkit::core.
# In a wheel everything lives under the package directory, so `python -m rnnkit --cmake-dir` can point at it.
include(GNUInstallDirs)
include(CMakePackageConfigHelpers)
if(SKBUILD)
  set(RNNKIT_INSTALL_ROOT rnnkit/)
else()
  set(RNNKIT_INSTALL_ROOT "")
endif()
set(RNNKIT_INSTALL_INCLUDEDIR ${RNNKIT_INSTALL_ROOT}${CMAKE_INSTALL_INCLUDEDIR})
set(RNNKIT_INSTALL_LIBDIR ${RNNKIT_INSTALL_ROOT}${CMAKE_INSTALL_LIBDIR})
set(RNNKIT_INSTALL_CMAKEDIR ${RNNKIT_INSTALL_LIBDIR}/cmake/rnnkit)

install(TARGETS rnnkit_core EXPORT rnnkitTargets
  ARCHIVE DESTINATION ${RNNKIT_INSTALL_LIBDIR}
  LIBRARY DESTINATION ${RNNKIT_INSTALL_LIBDIR}
  INCLUDES DESTINATION ${RNNKIT_INSTALL_INCLUDEDIR})
install(DIRECTORY ${PROJECT_SOURCE_DIR}/cpp/include/rnnkit DESTINATION ${RNNKIT_INSTALL_INCLUDEDIR})
install(EXPORT rnnkitTargets NAMESPACE rnnkit:: DESTINATION ${RNNKIT_INSTALL_CMAKEDIR})
# OpenMP is found inside cpp/ (its result variables stay in that directory's scope), so the package config asks
# the library itself whether consumers must find OpenMP too.
get_target_property(RNNKIT_CORE_LINKS rnnkit_core INTERFACE_LINK_LIBRARIES)
if("OpenMP::OpenMP_CXX" IN_LIST RNNKIT_CORE_LINKS)
  set(RNNKIT_NEEDS_OPENMP TRUE)
else()
  set(RNNKIT_NEEDS_OPENMP FALSE)
endif()
configure_package_config_file(${PROJECT_SOURCE_DIR}/cmake/rnnkitConfig.cmake.in
  ${CMAKE_CURRENT_BINARY_DIR}/rnnkitConfig.cmake INSTALL_DESTINATION ${RNNKIT_INSTALL_CMAKEDIR})
write_basic_package_version_file(${CMAKE_CURRENT_BINARY_DIR}/rnnkitConfigVersion.cmake
  COMPATIBILITY SameMinorVersion)
install(FILES ${CMAKE_CURRENT_BINARY_DIR}/rnnkitConfig.cmake ${CMAKE_CURRENT_BINARY_DIR}/rnnkitConfigVersion.cmake
  DESTINATION ${RNNKIT_INSTALL_CMAKEDIR})
