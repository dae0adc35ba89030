# The uio_hv_generic transport (src/vmbus/transport_uio.c and uio_*.c) and its
# sysfs readers. Included from tests/CMakeLists.txt.

md9_add_test(test_discovery md9vmbus ${PROJECT_SOURCE_DIR}/tests/test_discovery.c)
