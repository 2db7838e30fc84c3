# Dependencies of a DSINFER_KERNELS_ONLY build, the aarch64 cross build: the host's
# compiled libfmt and libgtest cannot link into another architecture, and core and
# backend need nothing else. fmt is used header-only, GoogleTest is built from the sources
# Debian's googletest package ships (a dependency of libgtest-dev).

# Only fmt's own folder goes on the include path: all of /usr/include would mix the
# host's C library headers into the target's.
set(dsinfer_fmt_headers ${CMAKE_BINARY_DIR}/fmt-headers)
file(MAKE_DIRECTORY ${dsinfer_fmt_headers})
file(CREATE_LINK /usr/include/fmt ${dsinfer_fmt_headers}/fmt SYMBOLIC)
add_library(dsinfer_fmt_header_only INTERFACE)
target_include_directories(dsinfer_fmt_header_only SYSTEM INTERFACE ${dsinfer_fmt_headers})
target_compile_definitions(dsinfer_fmt_header_only INTERFACE FMT_HEADER_ONLY)
add_library(fmt::fmt ALIAS dsinfer_fmt_header_only)

if(DSINFER_TESTS)
  set(INSTALL_GTEST OFF CACHE BOOL "" FORCE)
  # Defines GTest::gtest, GTest::gtest_main and GTest::gmock, as find_package does.
  add_subdirectory(/usr/src/googletest ${CMAKE_BINARY_DIR}/googletest EXCLUDE_FROM_ALL SYSTEM)
  # Its sources trip a GCC 12 false positive (-Wrestrict) under our warning flags.
  foreach(target gtest gtest_main gmock)
    target_compile_options(${target} PRIVATE -w)
  endforeach()
  # Tests are listed when ctest runs, not by running each binary (under emulation) at
  # build time.
  set(CMAKE_GTEST_DISCOVER_TESTS_DISCOVERY_MODE PRE_TEST)
endif()
