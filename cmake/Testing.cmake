include(GoogleTest)

# walship_unit_test(NAME SOURCES... LIBS ...): a GoogleTest binary labelled `unit`.
function(walship_unit_test name)
  cmake_parse_arguments(T "" "" "SOURCES;LIBS;LABELS" ${ARGN})
  add_executable(${name} ${T_SOURCES})
  target_link_libraries(${name} PRIVATE ${T_LIBS} GTest::gtest GTest::gtest_main GTest::gmock)
  target_compile_definitions(${name} PRIVATE
    WALSHIP_SHARED_TESTDATA="${WALSHIP_SHARED_TESTDATA}"
    WALSHIP_SOURCE_DIR="${CMAKE_SOURCE_DIR}")
  set(labels unit)
  if(T_LABELS)
    set(labels ${T_LABELS})
  endif()
  gtest_discover_tests(${name} PROPERTIES LABELS "${labels}" DISCOVERY_TIMEOUT 60)
endfunction()
