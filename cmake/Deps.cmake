# System dependencies only. A missing one fails with the Debian package that provides it.
find_package(PkgConfig)

function(walship_require found pkg what)
  if(NOT ${found})
    message(FATAL_ERROR "walship needs ${what}: install the Debian package '${pkg}' (apt-get install ${pkg})")
  endif()
endfunction()

find_package(Threads REQUIRED)

find_package(SQLite3)
walship_require(SQLite3_FOUND libsqlite3-dev "SQLite 3")

find_package(CURL)
walship_require(CURL_FOUND libcurl4-openssl-dev "libcurl")

find_package(OpenSSL)
walship_require(OPENSSL_FOUND libssl-dev "OpenSSL")

find_package(EXPAT)
walship_require(EXPAT_FOUND libexpat1-dev "expat (S3 XML)")

find_path(LZ4_INCLUDE_DIR lz4.h)
find_library(LZ4_LIBRARY lz4)
if(LZ4_INCLUDE_DIR AND LZ4_LIBRARY)
  set(LZ4_FOUND TRUE)
  add_library(walship_lz4 INTERFACE)
  target_include_directories(walship_lz4 INTERFACE ${LZ4_INCLUDE_DIR})
  target_link_libraries(walship_lz4 INTERFACE ${LZ4_LIBRARY})
endif()
walship_require(LZ4_FOUND liblz4-dev "liblz4")

find_path(ZSTD_INCLUDE_DIR zstd.h)
find_library(ZSTD_LIBRARY zstd)
if(ZSTD_INCLUDE_DIR AND ZSTD_LIBRARY)
  set(ZSTD_FOUND TRUE)
endif()
walship_require(ZSTD_FOUND libzstd-dev "libzstd")

find_package(yaml-cpp QUIET)
walship_require(yaml-cpp_FOUND libyaml-cpp-dev "yaml-cpp")

find_path(CLI11_INCLUDE_DIR CLI/CLI.hpp)
if(CLI11_INCLUDE_DIR)
  set(CLI11_FOUND TRUE)
endif()
walship_require(CLI11_FOUND libcli11-dev "CLI11")

find_package(nlohmann_json QUIET)
walship_require(nlohmann_json_FOUND nlohmann-json3-dev "nlohmann-json")

find_package(fmt QUIET)
walship_require(fmt_FOUND libfmt-dev "fmt")
find_package(spdlog QUIET)
walship_require(spdlog_FOUND libspdlog-dev "spdlog")

find_package(GTest QUIET)
walship_require(GTest_FOUND libgtest-dev "GoogleTest")
