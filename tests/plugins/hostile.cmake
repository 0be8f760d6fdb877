# Hostile test backends (tests/plugins/hostile_backend.c built three ways):
# plugin libraries that segfault, abort or hang on rows of 96 values, for
# tests/test_hostile_backends.c.  Output: <build>/tests/plugins/libhostile_<kind>.so
foreach(kind segv abort hang)
  add_library(hostile_${kind} MODULE ${CMAKE_CURRENT_LIST_DIR}/hostile_backend.c)
  string(TOUPPER ${kind} KIND)
  target_compile_definitions(hostile_${kind} PRIVATE HOSTILE_${KIND}=1)
  set_target_properties(hostile_${kind} PROPERTIES LIBRARY_OUTPUT_DIRECTORY ${CMAKE_BINARY_DIR}/tests/plugins)
  if(TARGET test_hostile_backends)
    add_dependencies(test_hostile_backends hostile_${kind})
  endif()
endforeach()
if(TARGET test_hostile_backends AND TARGET kvverify)
  add_dependencies(test_hostile_backends kvverify)
endif()
