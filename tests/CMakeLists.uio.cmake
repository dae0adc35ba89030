# The uio_hv_generic transport (src/transport_uio.c) and its sysfs readers.
# Included from the top-level CMakeLists.txt: paths are relative to the
# repository root.
target_sources(md9core PRIVATE src/transport_uio.c src/sysfs.c)

md9_add_test(test_discovery tests/test_discovery.c)
