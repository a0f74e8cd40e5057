# Cordon builds its portable code in up to three variants from the same sources:
#   plain  - the product and its tests
#   asan   - AddressSanitizer + UBSan, for the unit and simulation tiers and
#            the fuzz targets
#   tsan   - ThreadSanitizer, for the unit tests that run threads
# cordon_library(NAME SOURCES ... DEPS ... VARIANTS plain asan) makes NAME
# and NAME_asan as asked; a dependency named in DEPS resolves to the same
# variant of that library. Every library with an asan variant also gets a
# tsan one, left out of `all`: it is built only when a tsan test links it,
# so the tsan variant costs nothing until a test asks for it.
#
# One library build serves both the ASan tests and the fuzz targets: the
# asan variant of a library is also compiled with libFuzzer's coverage
# instrumentation (-fsanitize=fuzzer-no-link). A test executable that is
# not a fuzzer links it with the sanitizer runtime's no-op coverage hooks;
# a fuzz target (variant "fuzz", which names the asan libraries) links
# libFuzzer, which reads them. Compiling the libraries once for both saves
# a fourth build of the core, the OS layer and the daemon in `make test`.

set(CORDON_WARNINGS -Wall -Wextra -Werror -Wthread-safety -Wno-unused-parameter)
set(CORDON_ASAN_FLAGS -fsanitize=address,undefined -fno-sanitize-recover=undefined -fno-omit-frame-pointer)
set(CORDON_TSAN_FLAGS -fsanitize=thread -fno-omit-frame-pointer)
set(CORDON_FUZZ_FLAGS -fsanitize=fuzzer-no-link,address,undefined -fno-sanitize-recover=undefined -fno-omit-frame-pointer)

function(cordon_variant_name out base variant)
  if(variant STREQUAL "plain")
    set(${out} ${base} PARENT_SCOPE)
  else()
    set(${out} ${base}_${variant} PARENT_SCOPE)
  endif()
endfunction()

# Applies the flags of VARIANT to TARGET.
function(cordon_apply_variant target variant)
  target_compile_options(${target} PRIVATE ${CORDON_WARNINGS})
  if(variant STREQUAL "asan")
    target_compile_options(${target} PRIVATE ${CORDON_ASAN_FLAGS})
    target_link_options(${target} PUBLIC -fsanitize=address,undefined)
  elseif(variant STREQUAL "tsan")
    target_compile_options(${target} PRIVATE ${CORDON_TSAN_FLAGS})
    target_link_options(${target} PUBLIC -fsanitize=thread)
  elseif(variant STREQUAL "fuzz")
    target_compile_options(${target} PRIVATE ${CORDON_FUZZ_FLAGS})
    target_link_options(${target} PUBLIC -fsanitize=address,undefined)
  endif()
endfunction()

# Internal deps (cordon_*) follow the variant; everything else is linked as is.
function(cordon_link_deps target variant)
  set(lib_variant ${variant})
  if(variant STREQUAL "fuzz")
    set(lib_variant asan)  # see the top of this file
  endif()
  foreach(dep ${ARGN})
    if(dep MATCHES "^cordon_")
      cordon_variant_name(d ${dep} ${lib_variant})
      target_link_libraries(${target} PUBLIC ${d})
    else()
      target_link_libraries(${target} PUBLIC ${dep})
    endif()
  endforeach()
endfunction()

function(cordon_library name)
  cmake_parse_arguments(ARG "" "" "SOURCES;DEPS;VARIANTS;INCLUDES" ${ARGN})
  if(NOT ARG_SOURCES)
    # An empty module still links (header-only for now).
    set(ARG_SOURCES ${PROJECT_SOURCE_DIR}/cmake/empty.cpp)
  endif()
  if(NOT ARG_VARIANTS)
    set(ARG_VARIANTS plain)
  endif()
  if("fuzz" IN_LIST ARG_VARIANTS)
    message(FATAL_ERROR "${name}: the fuzz targets link the asan variant; ask for VARIANTS plain asan")
  endif()
  if("asan" IN_LIST ARG_VARIANTS)
    list(APPEND ARG_VARIANTS tsan)
  endif()
  foreach(v ${ARG_VARIANTS})
    cordon_variant_name(t ${name} ${v})
    if(v STREQUAL "tsan")
      add_library(${t} STATIC EXCLUDE_FROM_ALL ${ARG_SOURCES})
    else()
      add_library(${t} STATIC ${ARG_SOURCES})
    endif()
    target_include_directories(${t} PUBLIC ${PROJECT_SOURCE_DIR}/src ${PROJECT_SOURCE_DIR} ${ARG_INCLUDES})
    if(v STREQUAL "asan")
      cordon_apply_variant(${t} fuzz)  # asan + coverage: see the top of this file
    else()
      cordon_apply_variant(${t} ${v})
    endif()
    cordon_link_deps(${t} ${v} ${ARG_DEPS})
  endforeach()
endfunction()

# cordon_gtest(NAME SOURCES ... DEPS ... VARIANTS ... LABELS ...) builds one
# GoogleTest executable per variant and registers each test case with CTest.
function(cordon_gtest name)
  cmake_parse_arguments(ARG "" "TIMEOUT" "SOURCES;DEPS;VARIANTS;LABELS;PROPERTIES" ${ARGN})
  if(NOT ARG_SOURCES)
    return()
  endif()
  if(NOT ARG_VARIANTS)
    set(ARG_VARIANTS plain)
  endif()
  if(NOT ARG_TIMEOUT)
    set(ARG_TIMEOUT 120)
  endif()
  foreach(v ${ARG_VARIANTS})
    cordon_variant_name(t ${name} ${v})
    add_executable(${t} ${ARG_SOURCES})
    target_include_directories(${t} PRIVATE ${PROJECT_SOURCE_DIR}/src ${PROJECT_SOURCE_DIR})
    cordon_apply_variant(${t} ${v})
    cordon_link_deps(${t} ${v} ${ARG_DEPS} GTest::gtest GTest::gmock GTest::gtest_main)
    # GoogleTest's headers are most of a test file's compile time: compiled
    # once per executable, they save about a quarter of each test's build.
    target_precompile_headers(${t} PRIVATE <gmock/gmock.h> <gtest/gtest.h>
                              <string> <vector> <map> <memory> <optional> <span>)
    set(labels ${ARG_LABELS})
    if(NOT v STREQUAL "plain")
      list(APPEND labels ${v})
    endif()
    gtest_discover_tests(${t}
      TEST_PREFIX "${t}."
      DISCOVERY_TIMEOUT 60
      PROPERTIES LABELS "${labels}" TIMEOUT ${ARG_TIMEOUT} ${ARG_PROPERTIES})
  endforeach()
endfunction()
