/* Compiled as C: plugin.h must be valid C on its own. */
#include <compass/plugin.h>

uint64_t compass_test_c_table_size(void) {
  return sizeof(compass_backend_api);
}
