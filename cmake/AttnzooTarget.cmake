# attnzoo_library(NAME <target> SOURCES ... [PUBLIC_DEPS ...] [PRIVATE_DEPS ...])
# One shared library per top-level folder. Public headers live in <folder>/include/attnzoo/<folder>/ and
# are installed under include/attnzoo/<folder>/.
function(attnzoo_library)
  cmake_parse_arguments(A "" "NAME" "SOURCES;PUBLIC_DEPS;PRIVATE_DEPS" ${ARGN})
  add_library(${A_NAME} ${A_SOURCES})
  target_include_directories(${A_NAME} PUBLIC
    $<BUILD_INTERFACE:${CMAKE_CURRENT_SOURCE_DIR}/include>
    $<BUILD_INTERFACE:${PROJECT_SOURCE_DIR}/include>
    $<INSTALL_INTERFACE:${CMAKE_INSTALL_INCLUDEDIR}>)
  target_link_libraries(${A_NAME} PUBLIC torch ${A_PUBLIC_DEPS} PRIVATE ${A_PRIVATE_DEPS})
  attnzoo_use_pch(${A_NAME})
  install(TARGETS ${A_NAME} EXPORT attnzooTargets
    LIBRARY DESTINATION ${CMAKE_INSTALL_LIBDIR} ARCHIVE DESTINATION ${CMAKE_INSTALL_LIBDIR})
  install(DIRECTORY ${CMAKE_CURRENT_SOURCE_DIR}/include/attnzoo DESTINATION ${CMAKE_INSTALL_INCLUDEDIR})
endfunction()

function(attnzoo_use_pch target)
  if(ATTNZOO_PCH)
    target_precompile_headers(${target} REUSE_FROM attnzoo_pch)
  endif()
endfunction()
