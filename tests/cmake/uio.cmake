# The uio_hv_generic transport (src/vmbus/transport_uio.c and uio_*.c) and its
# sysfs readers. Included from tests/CMakeLists.txt.

# The transport on a fake sysfs and /dev tree (discovery_fixture.c), by subject.
foreach(t sysfs offers channel kernels)
  md9_add_test(test_discovery_${t} md9vmbus ${PROJECT_SOURCE_DIR}/tests/test_discovery_${t}.c
               ${PROJECT_SOURCE_DIR}/tests/discovery_fixture.c)
endforeach()
