# How kvverify's modules are built (included by the top CMakeLists.txt).
#
# Every target links kvv_flags: the warnings (kvv_warnings) and the code
# generation every file relies on.  -ffp-contract=off: the reference
# emulates the spec's f32 arithmetic operation by operation, and kernels
# use fused multiply-add only where they say so with an intrinsic.
add_library(kvv_warnings INTERFACE)
target_compile_options(kvv_warnings INTERFACE -Wall -Wextra -Werror)
add_library(kvv_flags INTERFACE)
target_compile_options(kvv_flags INTERFACE -ffp-contract=off -fno-strict-aliasing)
target_compile_definitions(kvv_flags INTERFACE _GNU_SOURCE)
target_link_libraries(kvv_flags INTERFACE kvv_warnings)

# kvv_view(TARGET DIR [PUBLIC|PRIVATE]): TARGET's headers become reachable as
# "DIR/name.h" for TARGET and (PUBLIC, the default) whatever links it, and
# for nobody else: the include path is a folder of the build tree holding a
# link to DIR alone.  So a module that includes a header of a module it
# does not link fails to build: the layering of README "Module map" is
# enforced by the compiler, not by review.
function(kvv_view target dir)
  set(scope PUBLIC)
  if(ARGC GREATER 2)
    set(scope ${ARGV2})
  endif()
  set(view ${CMAKE_BINARY_DIR}/include-views/${target})
  get_filename_component(parent ${view}/${dir} DIRECTORY)
  file(MAKE_DIRECTORY ${parent})
  if(NOT EXISTS ${view}/${dir})
    file(CREATE_LINK ${CMAKE_SOURCE_DIR}/${dir} ${view}/${dir} SYMBOLIC)
  endif()
  target_include_directories(${target} ${scope} ${view})
endfunction()

# kvv_module(NAME DIR [GLOB patterns] [EXTRA_SOURCES dirs] [EXTRA_FILES files]
#            [LINKS targets]): a static library of DIR's C files (or those
# matching GLOB, a ;-list), its headers under DIR/ seen by what links it,
# linked PUBLIC to LINKS (the modules below it).
function(kvv_module name dir)
  cmake_parse_arguments(M "" "" "GLOB;EXTRA_SOURCES;EXTRA_FILES;LINKS" ${ARGN})
  if(NOT M_GLOB)
    set(M_GLOB "*.c")
  endif()
  set(src "")
  foreach(g ${M_GLOB})
    file(GLOB s CONFIGURE_DEPENDS ${CMAKE_SOURCE_DIR}/${dir}/${g})
    list(APPEND src ${s})
  endforeach()
  foreach(d ${M_EXTRA_SOURCES})
    file(GLOB s CONFIGURE_DEPENDS ${CMAKE_SOURCE_DIR}/${d}/*.c)
    list(APPEND src ${s})
  endforeach()
  add_library(${name} STATIC ${src} ${M_EXTRA_FILES})
  kvv_view(${name} ${dir})
  target_link_libraries(${name} PUBLIC ${M_LINKS} PRIVATE kvv_flags)
endfunction()

# The built-in backends: a kernels/ folder that built one calls
# kvv_builtin_backend(NAME TARGET) (its TARGET defines `const kvv_builtin
# kvv_builtin_NAME`, include/kvv/builtin.h); one that could not be built
# calls kvv_unbuilt_backend(NAME LABEL WHY).  kvv_write_builtins(FILE) then
# writes the registry's list (backends/builtins_list.h), rewritten only when
# it changes.
function(kvv_builtin_backend name target)
  set_property(GLOBAL APPEND PROPERTY KVV_BUILTIN_NAMES ${name})
  set_property(GLOBAL APPEND PROPERTY KVV_BUILTIN_TARGETS_P ${target})
endfunction()
function(kvv_unbuilt_backend name label why)
  string(REPLACE "\"" "'" why "${why}")
  set_property(GLOBAL APPEND PROPERTY KVV_UNBUILT_ENTRIES "    {\"${name}\", \"${label}\", \"${why}\"},\n")
endfunction()
function(kvv_write_builtins file)
  get_property(names GLOBAL PROPERTY KVV_BUILTIN_NAMES)
  get_property(targets GLOBAL PROPERTY KVV_BUILTIN_TARGETS_P)
  get_property(unbuilt GLOBAL PROPERTY KVV_UNBUILT_ENTRIES)
  set(decl "")
  set(list "")
  foreach(n ${names})
    string(APPEND decl "extern const kvv_builtin kvv_builtin_${n};\n")
    string(APPEND list "&kvv_builtin_${n}, ")
  endforeach()
  list(LENGTH names nn)
  set(nu 0)
  if(unbuilt)
    string(REGEX MATCHALL "\n" lines "${unbuilt}")
    list(LENGTH lines nu)
  endif()
  string(REPLACE ";" "" unbuilt "${unbuilt}")
  file(CONFIGURE OUTPUT ${file} CONTENT
"/* Written by CMake (cmake/modules.cmake): the built-in backends of this build. */
#include \"backends/builtins_list.h\"

${decl}
const kvv_builtin *const kvv_builtins[] = {${list}NULL};
const int kvv_builtins_n = ${nn};
const kvv_unbuilt_backend kvv_unbuilt[] = {
${unbuilt}    {NULL, NULL, NULL}};
const int kvv_unbuilt_n = ${nu};
")
  set(KVV_BUILTIN_TARGETS ${targets} PARENT_SCOPE)
endfunction()
