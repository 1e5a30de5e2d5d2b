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

# attnzoo_kernel_sources(<target> <source>...): hand-written CPU kernels. They are built
#  - with OpenMP: ATen's at::parallel_for is an inline template that runs *serially* in a translation unit
#    compiled without -fopenmp (LibTorch's CMake package does not pass it on);
#  - at -O3 with -fno-math-errno, so that GCC vectorises their loops (sqrt/exp stay branch-free);
#  - without the shared PCH, whose flags must match exactly (they include ATen's core headers only, or
#    pay for <torch/torch.h> once).
# The target links the OpenMP runtime (the one LibTorch itself uses) without taking its compile flags,
# so that its other sources keep reusing the PCH.
find_package(OpenMP REQUIRED COMPONENTS CXX)
function(attnzoo_kernel_sources target)
  set_source_files_properties(${ARGN} TARGET_DIRECTORY ${target} PROPERTIES SKIP_PRECOMPILE_HEADERS ON
    COMPILE_OPTIONS "-O3;-fno-math-errno;${OpenMP_CXX_FLAGS}")
  target_link_libraries(${target} PRIVATE ${OpenMP_CXX_LIBRARIES})
endfunction()
