# Picking one LibTorch when two are installed (Debian's in /usr/lib and PyPI's wheel in a virtualenv).
#
# The wheel is found through -DCMAKE_PREFIX_PATH=<site-packages>/torch/share/cmake. Its TorchConfig.cmake
# then looks for libtorch.so / libc10.so with find_library(... PATHS <torch>/lib), and find_library searches
# PATHS only after the system folders: Debian's /usr/lib/x86_64-linux-gnu/libtorch.so would be linked
# against the wheel's headers. Putting the wheel's root first in CMAKE_PREFIX_PATH makes <torch>/lib win.
foreach(_attnzoo_prefix IN LISTS CMAKE_PREFIX_PATH Torch_DIR)
  foreach(_attnzoo_config IN ITEMS "${_attnzoo_prefix}/Torch/TorchConfig.cmake" "${_attnzoo_prefix}/TorchConfig.cmake")
    if(EXISTS "${_attnzoo_config}")
      get_filename_component(_attnzoo_config_dir "${_attnzoo_config}" DIRECTORY)
      get_filename_component(_attnzoo_torch_root "${_attnzoo_config_dir}/../../.." ABSOLUTE)
      if(EXISTS "${_attnzoo_torch_root}/lib")
        list(PREPEND CMAKE_PREFIX_PATH "${_attnzoo_torch_root}")
      endif()
    endif()
  endforeach()
endforeach()

# After find_package(Torch): refuse a build whose libraries come from another LibTorch than its headers.
function(attnzoo_check_torch_libraries)
  get_filename_component(_root "${TORCH_INSTALL_PREFIX}" REALPATH)
  get_filename_component(_lib "${TORCH_LIBRARY}" REALPATH)
  string(FIND "${_lib}" "${_root}/" _at)
  if(NOT _at EQUAL 0)
    message(FATAL_ERROR "LibTorch's headers come from ${TORCH_INSTALL_PREFIX} but libtorch from ${TORCH_LIBRARY}; "
                        "delete the build folder and pass -DCMAKE_PREFIX_PATH=<that LibTorch's root>")
  endif()
  message(STATUS "attnzoo: LibTorch ${Torch_VERSION} from ${TORCH_INSTALL_PREFIX}")
endfunction()

# PyPI's CUDA wheel takes its CUDA libraries (cudart, cuBLAS, cuDNN, NCCL) from the nvidia-* wheels beside
# it (libtorch_cuda.so's RPATH $ORIGIN/../../nvidia/...). The linker and the loader must use those rather
# than the CUDA toolkit's older ones in /usr/local/cuda (NCCL 2.30 symbols, cudart 13.2): search them first.
function(attnzoo_use_wheel_cuda_libraries)
  file(GLOB _dirs LIST_DIRECTORIES true "${TORCH_INSTALL_PREFIX}/../nvidia/*/lib")
  if(_dirs)
    list(JOIN _dirs ":" _path)
    add_link_options("LINKER:-rpath-link,${_path}" "LINKER:-rpath,${_path}")
    message(STATUS "attnzoo: CUDA libraries of the wheel first: ${_path}")
  endif()
endfunction()
