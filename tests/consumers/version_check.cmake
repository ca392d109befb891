# Checks the installed version file's rules: cmake -DVERSION_FILE=<...ConfigVersion.cmake> -P version_check.cmake
# The package is 0.1.x: a request for 0.1 (or none) fits, 0.0, 0.2 and 1.0 do not (0.x minors may break the API).

# Evaluates the version file as find_package would for one request and fails unless it answers `expected`.
function(expect_compatible request expected)
  set(PACKAGE_FIND_VERSION "${request}")
  if(request MATCHES "^([0-9]+)\\.([0-9]+)")
    set(PACKAGE_FIND_VERSION_MAJOR "${CMAKE_MATCH_1}")
    set(PACKAGE_FIND_VERSION_MINOR "${CMAKE_MATCH_2}")
  endif()
  include("${VERSION_FILE}")
  if(NOT PACKAGE_VERSION_COMPATIBLE STREQUAL expected)
    message(FATAL_ERROR "request '${request}' of ${PACKAGE_VERSION}: compatible=${PACKAGE_VERSION_COMPATIBLE}, expected ${expected}")
  endif()
endfunction()

expect_compatible("" TRUE)
expect_compatible("0.1" TRUE)
expect_compatible("0.1.0" TRUE)
expect_compatible("0.0.9" FALSE)
expect_compatible("0.2" FALSE)
expect_compatible("1.0" FALSE)
